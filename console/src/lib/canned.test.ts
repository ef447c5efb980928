import { describe, expect, it } from 'vitest';
import { render, suggestions, typedShortcut } from './canned';

const all = [
  { id: 1, shortcut: 'chao', text: 'Dạ em chào {{customer.name}}, em là {{ agent.name }} của {{page.name}} ạ', team_id: null },
  { id: 2, shortcut: 'cam-on', text: 'Cảm ơn anh/chị đã ủng hộ shop', team_id: null },
  { id: 3, shortcut: 'gia-si', text: 'Giá sỉ từ 50 cái, {{customer.name}} nhé', team_id: 4 },
];

describe('canned responses', () => {
  it('fill in the customer, the agent and the page, and leave anything else as written', () => {
    expect(render(all[0].text, { customer: 'Vũ Thị Hoa', agent: 'Lan', page: 'Shop Gốm' })).toBe(
      'Dạ em chào Vũ Thị Hoa, em là Lan của Shop Gốm ạ',
    );
    expect(render('{{customer.phone}} $& {{customer.name}}', { customer: '$1', agent: '', page: '' })).toBe('{{customer.phone}} $& $1');
  });

  it('are offered while the composer holds a slash and a shortcut only', () => {
    expect(typedShortcut('/')).toBe('');
    expect(typedShortcut('/Gia-si')).toBe('gia-si');
    expect(typedShortcut('/chao anh')).toBeNull();
    expect(typedShortcut('chào /chao')).toBeNull();
  });

  it('are suggested by shortcut first, then by words of their text', () => {
    expect(suggestions(all, '').map((c) => c.id)).toEqual([1, 2, 3]);
    expect(suggestions(all, 'c').map((c) => c.id)).toEqual([1, 2, 3]);
    expect(suggestions(all, 'ca').map((c) => c.id)).toEqual([2]);
    expect(suggestions(all, 'si').map((c) => c.id)).toEqual([3]);
  });
});
