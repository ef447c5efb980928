// Whether each role is reachable: the sender and the call center by their Socket.IO connections,
// the receiver by its health check (a console has no reason to hold a socket there).

export type LinkState = 'connecting' | 'up' | 'down';

export class ConnectionStore {
  receiver = $state<LinkState>('connecting');
  sender = $state<LinkState>('connecting');
  callcenter = $state<LinkState>('connecting');
}
