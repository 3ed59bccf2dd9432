import { AgentClients } from './agent-clients';

describe('AgentClients', () => {
  it('closes the client of an agent address unused for the idle time, and only that one', () => {
    let now = 0;
    const clients = new AgentClients(10 * 60_000, () => now);
    try {
      const gone = clients.get('10.0.0.1:4703');
      const kept = clients.get('10.0.0.2:4703');
      now += 9 * 60_000;
      expect(clients.get('10.0.0.2:4703')).toBe(kept); // used: its idle time starts again
      now += 2 * 60_000;
      clients.get('10.0.0.3:4703'); // a use after a minute looks for idle clients
      expect(clients.size).toBe(2);
      expect(clients.get('10.0.0.2:4703')).toBe(kept);
      expect(clients.get('10.0.0.1:4703')).not.toBe(gone); // a fresh client if it comes back
    } finally {
      clients.closeAll();
    }
  });
});
