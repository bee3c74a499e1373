package io.tether.transport;

import io.tether.ops.TetherMetrics;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads the body of every request that may carry one, before any handler sees the request, within
 * three bounds:
 *
 * <ul>
 *   <li><b>Size.</b> A body above {@code TETHER_MAX_APPEND_BYTES} is answered {@code 413} as soon as
 *       that is known: at once when {@code Content-Length} announces it (also instead of
 *       {@code 100 Continue}), else when the limit is crossed. The rest of the body is read and
 *       discarded, up to four times the limit, so the client reads the status instead of a reset
 *       connection; beyond that the connection is closed.</li>
 *   <li><b>Memory.</b> Nothing is allocated from a declared length. Received bytes are charged to the
 *       node-wide budget ({@link ClientLimits#reserveBody}) as they arrive and released when the
 *       response ends; a request that would overdraw it is answered {@code 503 server_busy} with
 *       {@code Retry-After}, and the rest of its body is dropped as it arrives.</li>
 *   <li><b>Time.</b> A body that stops arriving for {@code TETHER_BODY_TIMEOUT_MS} is answered
 *       {@code 408 request_timeout} and its connection closed. One timer per event loop checks the
 *       bodies in flight (a tenth of the timeout apart, at most a second), rather than a timer set
 *       and cancelled for every request.</li>
 * </ul>
 * Answering a keep-alive HTTP/1.1 request before its body has been read leaves the connection usable
 * only if the server goes on reading that body, which is why refusals either discard the rest or close.
 */
final class RequestBody {

  private static final String KEY = "tether.body";

  private RequestBody() {
  }

  /** Router handler: reads the body (any method but GET, HEAD and OPTIONS), then continues. */
  static Handler<RoutingContext> handler(Vertx vertx, int limit, ClientLimits limits, long idleMillis,
                                         TetherMetrics metrics) {
    Watch watch = new Watch(vertx, idleMillis);
    return ctx -> {
      HttpMethod method = ctx.request().method();
      if (method == HttpMethod.GET || method == HttpMethod.HEAD || method == HttpMethod.OPTIONS
          || ctx.request().isEnded()) {
        ctx.next();
        return;
      }
      new Reader(watch, ctx, limit, limits, idleMillis, metrics).start();
    };
  }

  /**
   * The bodies being read on one event loop (one handler per HTTP server instance), and the one timer
   * that checks them for silence. The timer runs while bodies are in flight and stops after a check
   * finds none.
   */
  private static final class Watch {
    private final Vertx vertx;
    private final long idleMillis;
    private final long period;
    private final Set<Reader> reading = new HashSet<>();
    private long timer = -1;

    Watch(Vertx vertx, long idleMillis) {
      this.vertx = vertx;
      this.idleMillis = idleMillis;
      this.period = Math.max(10, Math.min(1000, idleMillis / 10));
    }

    void add(Reader reader) {
      reading.add(reader);
      if (timer < 0) {
        timer = vertx.setPeriodic(period, t -> check());
      }
    }

    void remove(Reader reader) {
      reading.remove(reader);
    }

    private void check() {
      if (reading.isEmpty()) {
        vertx.cancelTimer(timer);
        timer = -1;
        return;
      }
      long now = System.currentTimeMillis();
      for (Reader reader : List.copyOf(reading)) {
        if (now - reader.lastChunkAt >= idleMillis) {
          reader.timedOut();
        }
      }
    }
  }

  /** The body read by {@link #handler}; empty when the request had none. */
  static Buffer of(RoutingContext ctx) {
    Buffer body = ctx.get(KEY);
    return body == null ? Buffer.buffer() : body;
  }

  /** One request's body, read on the request's event loop. */
  private static final class Reader {
    private final Watch watch;
    private final RoutingContext ctx;
    private final HttpServerRequest request;
    private final int limit;
    private final ClientLimits limits;
    private final long idleMillis;
    private final TetherMetrics metrics;
    private final List<Buffer> chunks = new ArrayList<>();
    private long received;
    private long charged;
    private long discarded;
    /** The request was answered (refused); what still arrives is discarded or the connection closed. */
    private boolean answered;
    private long lastChunkAt;
    private boolean watched;

    Reader(Watch watch, RoutingContext ctx, int limit, ClientLimits limits, long idleMillis, TetherMetrics metrics) {
      this.watch = watch;
      this.ctx = ctx;
      this.request = ctx.request();
      this.limit = limit;
      this.limits = limits;
      this.idleMillis = idleMillis;
      this.metrics = metrics;
    }

    void start() {
      long declared = -1;
      String length = request.getHeader("Content-Length");
      if (length != null) {
        try {
          declared = Long.parseLong(length.trim());
        } catch (NumberFormatException e) {
          declared = -2;
        }
        if (declared < 0) {
          answered = true;
          ApiError.of(400, "invalid_header", "Content-Length is not a non-negative number")
              .sendAndClose(ctx.response(), request.connection());
          return;
        }
      }
      request.handler(this::chunk);
      request.endHandler(v -> end());
      request.exceptionHandler(e -> abandon());
      if (declared > limit) {
        tooLarge();
      } else if (declared > 0 && !limits.wouldFit(declared)) {
        // Refused before the client sends the body (with Expect: 100-continue it has not started yet).
        busy();
      } else if ("100-continue".equalsIgnoreCase(request.getHeader("Expect"))) {
        ctx.response().writeContinue();
      }
      lastChunkAt = System.currentTimeMillis();
      watched = true;
      watch.add(this);
      request.resume();
    }

    private void chunk(Buffer chunk) {
      lastChunkAt = System.currentTimeMillis();
      if (answered) {
        discarded += chunk.length();
        if (discarded > 4L * limit) {
          finish();
          request.connection().close();
        }
        return;
      }
      received += chunk.length();
      if (received > limit) {
        tooLarge();
        discarded = received;
        return;
      }
      if (!limits.reserveBody(chunk.length())) {
        busy();
        return;
      }
      charged += chunk.length();
      chunks.add(chunk);
    }

    private void end() {
      unwatch();
      if (answered) {
        return;
      }
      Buffer body;
      if (chunks.size() == 1) {
        body = chunks.get(0);
      } else {
        body = Buffer.buffer((int) received);
        chunks.forEach(body::appendBuffer);
      }
      chunks.clear();
      ctx.put(KEY, body);
      long held = charged;
      charged = 0;
      ctx.addEndHandler(ar -> limits.releaseBody(held));
      ctx.next();
    }

    /** Answers 413 now and discards what follows. */
    private void tooLarge() {
      metrics.clientRefused("body_too_large");
      answered = true;
      releaseCharged();
      ApiError.of(413, "payload_too_large", "request body exceeds " + limit + " bytes").send(ctx.response());
    }

    /**
     * The node-wide body budget is spent: 503 now, and what follows is dropped as it arrives (nothing is
     * held). Closing instead, with the client still sending, would reset the connection and the client
     * might never read the answer.
     */
    private void busy() {
      metrics.clientRefused("body_budget");
      answered = true;
      discarded = received;
      releaseCharged();
      ApiError.of(503, "server_busy", "this node holds its maximum of request bodies in transit; retry")
          .withHeader("Retry-After", "1").send(ctx.response());
    }

    /** No body bytes arrived for the timeout (from the {@link Watch}). */
    void timedOut() {
      metrics.clientRefused("body_timeout");
      boolean wasAnswered = answered;
      answered = true;
      finish();
      if (wasAnswered) {
        request.connection().close();
      } else {
        ApiError.of(408, "request_timeout", "no body bytes arrived for " + idleMillis + " ms")
            .sendAndClose(ctx.response(), request.connection());
      }
    }

    /**
     * The body could not be read: its framing was malformed (a bad chunk size), or the connection failed
     * or closed. A client still there is told so; the connection cannot be resynchronised and closes.
     */
    private void abandon() {
      boolean wasAnswered = answered;
      answered = true;
      finish();
      if (!wasAnswered) {
        ApiError.of(400, "invalid_body", "the request body could not be read (malformed chunked encoding?)")
            .sendAndClose(ctx.response(), request.connection());
      }
    }

    private void finish() {
      unwatch();
      releaseCharged();
    }

    private void releaseCharged() {
      chunks.clear();
      if (charged > 0) {
        limits.releaseBody(charged);
        charged = 0;
      }
    }

    private void unwatch() {
      if (watched) {
        watch.remove(this);
        watched = false;
      }
    }
  }
}
