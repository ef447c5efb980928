import { getContext, setContext } from 'svelte';
import type { ConsoleApp } from './app.svelte';

const KEY = Symbol('switchboard-app');

export function provideApp(app: ConsoleApp) {
  setContext(KEY, app);
}

export function useApp(): ConsoleApp {
  return getContext<ConsoleApp>(KEY);
}
