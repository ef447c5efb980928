// Hash routes (#/inbox, #/calls…): the server serves one page and never has to know the console's paths.

export const ROUTES = ['inbox', 'notifications', 'posts', 'calls', 'customers', 'agents', 'floor', 'reports', 'admin'] as const;
export type Route = (typeof ROUTES)[number];

function parse(hash: string): { route: Route; param: string | null } {
  const [name, param] = hash.replace(/^#\/?/, '').split('/');
  const route = (ROUTES as readonly string[]).includes(name) ? (name as Route) : 'inbox';
  return { route, param: param ? decodeURIComponent(param) : null };
}

class Router {
  route = $state<Route>('inbox');
  param = $state<string | null>(null);

  constructor() {
    if (typeof window === 'undefined') return;
    this.sync();
    window.addEventListener('hashchange', () => this.sync());
  }

  private sync() {
    const { route, param } = parse(location.hash);
    this.route = route;
    this.param = param;
  }

  go(route: Route, param?: string | number) {
    location.hash = `#/${route}${param !== undefined ? '/' + encodeURIComponent(String(param)) : ''}`;
  }
}

export const router = new Router();
