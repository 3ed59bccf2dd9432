import { agentV1, createAgentClient, GrpcClient } from '@wharf/proto';

/** One gRPC client per agent address, created on first use and closed on shutdown. */
export class AgentClients {
  private readonly clients = new Map<string, GrpcClient<agentV1.AgentServiceClient>>();

  get(address: string): agentV1.AgentServiceClient {
    let client = this.clients.get(address);
    if (!client) {
      client = createAgentClient(address);
      this.clients.set(address, client);
    }
    return client.client;
  }

  closeAll(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
