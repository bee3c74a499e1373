package io.tether.transport;

import io.tether.conversation.PresenceReporter;
import io.tether.cluster.StreamServices;
import io.tether.stream.ReadStart;
import io.vertx.ext.web.RoutingContext;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Entry point of the three live transports over the same offsets: {@code live=long-poll},
 * {@code live=sse} and {@code live=ws}. Admits a connection only while the node holds fewer than
 * {@code TETHER_MAX_CONNECTIONS} live connections (503 {@code too_many_connections} otherwise).
 */
public final class LiveTransports {

  private final StreamServices services;
  private final PresenceReporter presence;

  public LiveTransports(StreamServices services, PresenceReporter presence) {
    this.services = services;
    this.presence = presence;
  }

  /**
   * Runs {@code next} now if {@code stream}'s write queue has room, else once it drains (unless the
   * connection is {@code done} by then): how a replay is paced by its reader.
   */
  static void whenWritable(io.vertx.core.streams.WriteStream<?> stream, java.util.function.BooleanSupplier done,
                           Runnable next) {
    if (done.getAsBoolean()) {
      return;
    }
    if (!stream.writeQueueFull()) {
      next.run();
      return;
    }
    stream.drainHandler(v -> {
      stream.drainHandler(null);
      if (!done.getAsBoolean()) {
        next.run();
      }
    });
  }

  /** Epoch seconds of a credential's expiry as milliseconds; no expiry is {@link Long#MAX_VALUE}. */
  private static long expiresAtMillis(Long seconds) {
    if (seconds == null || seconds == Long.MAX_VALUE) {
      return Long.MAX_VALUE;
    }
    return seconds * 1000;
  }

  void serve(RoutingContext ctx, String stream, ReadStart start, String mode) {
    if (mode.equals("ws")) {
      ApiError refusal = ChannelWebSocket.refusal(ctx.request());
      if (refusal != null) {
        refusal.send(ctx.response());
        return;
      }
    }
    String transport = mode.equals("ws") ? "websocket" : mode;
    AtomicInteger gauge = services.metrics().connections(transport);
    if (services.metrics().totalConnections() >= services.config().maxConnections()) {
      ApiError.of(503, "too_many_connections", "this node holds its maximum of live connections; retry elsewhere")
          .withHeader("Retry-After", "1").send(ctx.response());
      return;
    }
    gauge.incrementAndGet();
    String device = ctx.get(SessionHandler.DEVICE);
    Runnable release;
    if (device != null && presence != null) {
      // A session's device is connected for as long as it holds a live connection (or a long-poll).
      presence.opened(stream, device);
      AtomicBoolean released = new AtomicBoolean();
      release = () -> {
        if (released.compareAndSet(false, true)) {
          gauge.decrementAndGet();
          presence.closed(stream, device);
        }
      };
    } else {
      release = gauge::decrementAndGet;
    }
    String cursor = ctx.request().getParam("cursor");
    long expiresAt = expiresAtMillis(ctx.get(StreamHandler.EXPIRES_AT));
    switch (mode) {
      case "long-poll" -> new LongPollRequest(services, ctx, stream, start, cursor, expiresAt, release).start();
      case "sse" -> new SseSession(services, ctx, stream, start, cursor, expiresAt, release).start();
      default -> new WebSocketSession(services, ctx, stream, start, expiresAt,
          expiresAtMillis(ctx.get(StreamHandler.WRITE_UNTIL)), release).start();
    }
  }
}
