package io.tether.transport;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The last phase of a graceful stop, as HTTP clients see it. Until {@link #start()} every request is
 * served (and counted while it runs); from then on a new request is refused at once with
 * {@code 503 node_draining}, {@code Retry-After: 1} and {@code Connection: close}, and a request still
 * running gets {@code Connection: close} on its answer, so that no client reuses a connection this node
 * is about to close. The node closes its sockets only once {@link #active()} is 0 (or its drain deadline
 * passed): no response is cut in the middle of its body.
 */
public final class Drain {

  private static final String END = "tether.drain.end";

  private volatile boolean draining;
  private final AtomicInteger active = new AtomicInteger();
  /** The running requests with their start (nanoTime), for the log line of a drain that times out. */
  private final Map<HttpServerRequest, Long> running = new ConcurrentHashMap<>();

  /** From now on, new requests are refused and answers close their connection. */
  public void start() {
    draining = true;
  }

  /** Requests that started and whose response has not ended (live responses included). */
  public int active() {
    return active.get();
  }

  /**
   * The request of {@code ctx} became a WebSocket (or failed to): it no longer counts as a running request.
   * Its response never ends (its end handlers run only when the socket's connection closes); the socket
   * is counted among the live connections, which a stop closes (code 1012) and waits for.
   */
  public static void upgraded(RoutingContext ctx) {
    Runnable end = ctx.get(END);
    if (end != null) {
      end.run();
    }
  }

  /** Up to {@code max} running requests, oldest first, as "METHOD path (N ms)", for a log line. */
  public String describeRunning(int max) {
    long now = System.nanoTime();
    return running.entrySet().stream()
        .sorted(Map.Entry.comparingByValue())
        .limit(max)
        .map(e -> e.getKey().method() + " " + e.getKey().path()
            + (e.getKey().getParam("live") == null ? "" : " live=" + e.getKey().getParam("live")) + " ("
            + TimeUnit.NANOSECONDS.toMillis(now - e.getValue()) + " ms)")
        .collect(Collectors.joining(", "));
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
      HttpServerRequest request = ctx.request();
      running.put(request, System.nanoTime());
      AtomicBoolean ended = new AtomicBoolean();
      Runnable end = () -> {
        if (ended.compareAndSet(false, true)) {
          active.decrementAndGet();
          running.remove(request);
        }
      };
      ctx.put(END, end);
      ctx.addEndHandler(v -> end.run());
      ctx.addHeadersEndHandler(v -> {
        if (draining) {
          ctx.response().putHeader("Connection", "close");
        }
      });
      ctx.next();
    };
  }
}
