package io.tether.transport;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The last phase of a graceful stop, as HTTP clients see it. Until {@link #start()} every request is
 * served (and counted while it runs); from then on a new request is refused at once with
 * {@code 503 node_draining}, {@code Retry-After: 1} and {@code Connection: close}, and a request still
 * running gets {@code Connection: close} on its answer, so that no client reuses a connection this node
 * is about to close. The node closes its sockets only once {@link #active()} is 0 (or its drain deadline
 * passed): no response is cut in the middle of its body.
 */
public final class Drain {

  private volatile boolean draining;
  private final AtomicInteger active = new AtomicInteger();

  /** From now on, new requests are refused and answers close their connection. */
  public void start() {
    draining = true;
  }

  /** Requests that started and whose response has not ended (live responses included). */
  public int active() {
    return active.get();
  }

  /** The route handler that refuses or counts every request. */
  Handler<RoutingContext> handler() {
    return ctx -> {
      if (draining && !ctx.request().path().startsWith("/health/")) {
        ApiError.of(503, "node_draining", "this node is shutting down; send the request to another node")
            .withHeader("Retry-After", "1").sendAndClose(ctx.response(), ctx.request().connection());
        return;
      }
      active.incrementAndGet();
      ctx.addEndHandler(v -> active.decrementAndGet());
      ctx.addHeadersEndHandler(v -> {
        if (draining) {
          ctx.response().putHeader("Connection", "close");
        }
      });
      ctx.next();
    };
  }
}
