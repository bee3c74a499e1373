package io.tether.transport;

import io.tether.config.TetherConfig;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The node-wide bounds on what clients may make this node hold, shared by every HTTP server instance
 * (one per event loop): connections per client address, and request-body bytes held at once.
 *
 * <p>Both count what exists, not what a client announces: a body is charged as its bytes arrive, so a
 * {@code Content-Length} header costs nothing until the bytes it promises are received.
 */
public final class ClientLimits {

  private final int maxConnectionsPerAddress;
  private final long maxBodyBytes;
  private final ConcurrentHashMap<String, Integer> connections = new ConcurrentHashMap<>();
  private final AtomicLong bodyBytes = new AtomicLong();

  public ClientLimits(int maxConnectionsPerAddress, long maxBodyBytes) {
    this.maxConnectionsPerAddress = maxConnectionsPerAddress;
    this.maxBodyBytes = maxBodyBytes;
  }

  public static ClientLimits of(TetherConfig config) {
    return new ClientLimits(config.maxConnectionsPerIp(), config.maxBodyBufferBytes());
  }

  /** Counts a new connection from {@code address}; {@code false} (and nothing counted) past the limit. */
  public boolean openConnection(String address) {
    if (maxConnectionsPerAddress <= 0) {
      return true;
    }
    boolean[] admitted = {false};
    connections.compute(address, (k, n) -> {
      int current = n == null ? 0 : n;
      if (current >= maxConnectionsPerAddress) {
        return n;
      }
      admitted[0] = true;
      return current + 1;
    });
    return admitted[0];
  }

  /** A connection counted by {@link #openConnection} closed. */
  public void closeConnection(String address) {
    if (maxConnectionsPerAddress > 0) {
      connections.computeIfPresent(address, (k, n) -> n <= 1 ? null : n - 1);
    }
  }

  /** Charges {@code bytes} of request body; {@code false} (nothing charged) when the budget is spent. */
  public boolean reserveBody(long bytes) {
    long now = bodyBytes.addAndGet(bytes);
    if (now > maxBodyBytes) {
      bodyBytes.addAndGet(-bytes);
      return false;
    }
    return true;
  }

  /** Whether {@code bytes} more would fit in the body budget right now (nothing is charged). */
  public boolean wouldFit(long bytes) {
    return bodyBytes.get() + bytes <= maxBodyBytes;
  }

  public void releaseBody(long bytes) {
    bodyBytes.addAndGet(-bytes);
  }

  /** Request-body bytes held right now, over all requests. */
  public long bodyBytesHeld() {
    return bodyBytes.get();
  }

  /** Client addresses with at least one open connection. */
  public int addresses() {
    return connections.size();
  }
}
