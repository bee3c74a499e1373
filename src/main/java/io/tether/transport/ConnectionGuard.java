package io.tether.transport;

import io.tether.ops.TetherMetrics;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.ext.web.RoutingContext;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Bounds what an HTTP connection may cost while it is not serving a request. One per HTTP server
 * instance; all its methods run on that instance's event loop.
 *
 * <ul>
 *   <li>A new connection must deliver a complete request head within the header timeout, or it is
 *       closed: a socket that connects and says nothing, or dribbles a request line, holds nothing
 *       for long.</li>
 *   <li>Between requests, a kept-alive connection is closed after the idle timeout (longer than the
 *       60 s that AWS ALB keeps idle upstream connections, so a proxy never reuses a connection this
 *       side has just closed).</li>
 *   <li>A client address may hold a bounded number of connections; past it, the first request on a
 *       new connection is answered {@code 429 too_many_connections} and the connection closed.</li>
 * </ul>
 * While a request is in progress (a body arriving, an SSE stream, a long-poll) these timers do not
 * run: the request body has its own idle timeout ({@link RequestBody}), live transports their
 * heartbeats and slow-consumer cut, and a WebSocket its liveness check.
 */
final class ConnectionGuard {

  private final Vertx vertx;
  private final ClientLimits limits;
  private final TetherMetrics metrics;
  private final long headerTimeoutMillis;
  private final long idleTimeoutMillis;
  private final Map<HttpConnection, State> states = new HashMap<>();

  ConnectionGuard(Vertx vertx, ClientLimits limits, TetherMetrics metrics, long headerTimeoutMillis,
                  long idleTimeoutMillis) {
    this.vertx = vertx;
    this.limits = limits;
    this.metrics = metrics;
    this.headerTimeoutMillis = headerTimeoutMillis;
    this.idleTimeoutMillis = idleTimeoutMillis;
  }

  private final class State {
    final HttpConnection connection;
    final String address;
    final boolean admitted;
    int requests;
    long timer = -1;

    State(HttpConnection connection, String address, boolean admitted) {
      this.connection = connection;
      this.address = address;
      this.admitted = admitted;
    }

    /** When the armed timeout closes the connection ({@link System#nanoTime}), if {@link #armed}. */
    long deadline;
    boolean armed;
    String reason;

    /**
     * Arms the timeout. Requests come and go far more often than a timeout fires, so arming and
     * disarming only set {@link #deadline} and {@link #armed}; the one timer of the connection, when it
     * fires, closes the connection or waits again for what is left.
     */
    void arm(long millis, String reason) {
      this.deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
      this.armed = true;
      this.reason = reason;
      if (timer < 0) {
        schedule(millis);
      }
    }

    void disarm() {
      armed = false;
    }

    private void schedule(long millis) {
      timer = vertx.setTimer(Math.max(1, millis), t -> {
        timer = -1;
        if (!armed) {
          return;
        }
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left > 0) {
          schedule(left);
        } else if (requests == 0) {
          metrics.clientRefused(reason);
          connection.close();
        }
      });
    }

    /** The connection closed: its timer goes too. */
    void cancel() {
      armed = false;
      if (timer >= 0) {
        vertx.cancelTimer(timer);
        timer = -1;
      }
    }
  }

  /** Server connection handler: a connection was accepted. */
  void opened(HttpConnection connection) {
    String address = connection.remoteAddress() == null ? "unknown" : connection.remoteAddress().hostAddress();
    State state = new State(connection, address, limits.openConnection(address));
    states.put(connection, state);
    state.arm(headerTimeoutMillis, "header_timeout");
    connection.closeHandler(v -> closed(state));
  }

  /** The connection is gone: its place under the per-address limit is free again. Runs once. */
  private void closed(State state) {
    if (states.remove(state.connection) == null) {
      return;
    }
    state.cancel();
    if (state.admitted) {
      limits.closeConnection(state.address);
    }
  }

  /**
   * First router handler: a request head arrived. Returns {@code false} when the request was answered
   * here (its connection is over the per-address limit).
   */
  boolean requestStarted(RoutingContext ctx) {
    HttpConnection connection = ctx.request().connection();
    State state = states.get(connection);
    if (state == null) {
      return true;
    }
    if (!state.admitted) {
      metrics.clientRefused("connections_per_address");
      ApiError.of(429, "too_many_client_connections",
              "this client address holds its maximum of connections to this node; close some and retry")
          .withHeader("Retry-After", "1").sendAndClose(ctx.response(), connection);
      return false;
    }
    state.requests++;
    state.disarm();
    ctx.addEndHandler(ar -> {
      state.requests--;
      if (state.requests == 0 && states.containsKey(connection)) {
        state.arm(idleTimeoutMillis, "idle_timeout");
      }
    });
    return true;
  }
}
