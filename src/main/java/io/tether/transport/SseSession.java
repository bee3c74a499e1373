package io.tether.transport;

import io.tether.cluster.StreamServices;
import io.tether.cluster.live.LiveSubscription;
import io.tether.stream.Offset;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

import java.util.List;

/**
 * {@code GET ...?live=sse&offset=...}: Server-Sent Events. Each batch is an {@code event: data}
 * (text and JSON as UTF-8 lines, other content types base64) followed by an {@code event: control}
 * carrying {@code streamNextOffset}, {@code streamCursor}, {@code upToDate} and, at the end of a
 * closed stream, {@code streamClosed} (after which the response ends). A comment line is written every
 * heartbeat interval so proxies never see an idle connection.
 *
 * <p>Replay is paced by the socket: the next page is read only once the write queue has room. A live
 * reader that cannot keep up (its write queue holds more than {@code TETHER_MAX_READ_BYTES}) is cut
 * loose: the response ends, the connection closes, and the client resumes from the last
 * {@code streamNextOffset} it saw. When the token the stream was opened with expires, the response ends
 * with the comment {@code : token expired} (the client reconnects with a new token).
 */
final class SseSession implements LiveSubscription.Listener {

  private static final Buffer HEARTBEAT = Buffer.buffer(": heartbeat\n\n");

  private final StreamServices services;
  private final RoutingContext ctx;
  private final HttpServerResponse response;
  private final String cursor;
  private final Runnable release;
  private final LiveSubscription subscription;
  private EventFormat format;
  private boolean headersSent;
  private boolean done;
  private long heartbeat = -1;
  private long expiry = -1;
  private final long expiresAtMillis;

  SseSession(StreamServices services, RoutingContext ctx, String stream, ReadStart start, String clientCursor,
             long expiresAtMillis, Runnable release) {
    this.services = services;
    this.ctx = ctx;
    this.response = ctx.response();
    this.cursor = Cursors.next(clientCursor, System.currentTimeMillis());
    this.release = release;
    this.expiresAtMillis = expiresAtMillis;
    this.subscription = new LiveSubscription(services, stream, start, this);
  }

  void start() {
    // Through the routing context, not response.closeHandler: that would replace the handler Vert.x Web
    // uses to run the end handlers (the drain's request count among them) when a client goes away.
    ctx.addEndHandler(ar -> finish());
    response.setWriteQueueMaxSize(services.config().maxReadBytes());
    if (expiresAtMillis != Long.MAX_VALUE) {
      expiry = services.vertx().setTimer(Math.max(1, expiresAtMillis - System.currentTimeMillis()), t -> {
        expiry = -1;
        tokenExpired();
      });
    }
    subscription.start();
  }

  @Override
  public void whenWritable(Runnable next) {
    LiveTransports.whenWritable(response, () -> done, next);
  }

  private void tokenExpired() {
    if (done) {
      return;
    }
    if (!headersSent) {
      ApiError.of(401, "token_expired", "the token expired; reconnect with a new one").send(response);
    } else {
      response.end(Buffer.buffer(": token expired\n\n"));
    }
    finish();
  }

  @Override
  public void onData(Offset start, List<byte[]> events, Offset next, boolean upToDate, boolean closed) {
    if (done) {
      return;
    }
    if (!headersSent) {
      sendHeaders();
    }
    Buffer out = Buffer.buffer();
    if (!events.isEmpty()) {
      out.appendString("event: data\n");
      appendDataLines(out, format.frameText(events));
      out.appendString("\n");
    }
    // Written out rather than encoded from a JsonObject, once per event and reader: the values are an
    // offset and a cursor (digits and '_'), which need no escaping.
    StringBuilder control = new StringBuilder(112).append("event: control\ndata:{\"streamNextOffset\":\"")
        .append(next).append('"');
    if (!closed) {
      control.append(",\"streamCursor\":\"").append(cursor).append('"');
    }
    if (upToDate || closed) {
      control.append(",\"upToDate\":true");
    }
    if (closed) {
      control.append(",\"streamClosed\":true");
    }
    out.appendString(control.append("}\n\n").toString());
    response.write(out);
    if (closed) {
      response.end();
      finish();
    } else if (subscription.isLive() && response.writeQueueFull()) {
      // Its socket, not only its place in the stream: a reader that cannot take what it was sent must
      // not keep a connection (and its buffers) either.
      services.metrics().slowConsumerCut();
      response.end();
      finish();
      ctx.request().connection().close();
    }
  }

  @Override
  public void onEnd(StreamReply reply, Throwable error) {
    if (done) {
      return;
    }
    if (!headersSent) {
      (reply != null ? Replies.refusal(reply) : Replies.failure(error)).send(response);
    } else {
      response.end();
    }
    finish();
  }

  /** The node shuts down: end the response; the client resumes elsewhere from its last control offset. */
  @Override
  public void onNodeShutdown() {
    if (done) {
      return;
    }
    if (!headersSent) {
      ApiError.of(503, "node_shutting_down", "this node is shutting down; retry").withHeader("Retry-After", "0")
          .send(response);
    } else {
      response.end(Buffer.buffer(": node shutting down, reconnect\n\n"));
    }
    finish();
  }

  private void sendHeaders() {
    headersSent = true;
    format = EventFormat.of(subscription.settings().contentType());
    response.setStatusCode(200)
        .setChunked(true)
        .putHeader("Content-Type", "text/event-stream")
        .putHeader("Cache-Control", "no-cache")
        .putHeader("X-Accel-Buffering", "no");
    if (format.binary()) {
      response.putHeader(ProtocolHeaders.SSE_ENCODING, "base64");
    }
    response.writeHead();
    long interval = services.config().heartbeatSeconds() * 1000L;
    heartbeat = services.vertx().setPeriodic(interval, interval, t -> {
      if (!done) {
        response.write(HEARTBEAT);
      }
    });
  }

  /**
   * One {@code data:} line per line of the payload: CR, LF and CRLF all end a line in SSE, so an
   * embedded event boundary becomes literal data. A line that starts with a space gets one extra space,
   * which SSE parsers strip, so the payload arrives unchanged.
   */
  private static void appendDataLines(Buffer out, String payload) {
    int lineStart = 0;
    int n = payload.length();
    for (int i = 0; i < n; i++) {
      char c = payload.charAt(i);
      if (c == '\r' || c == '\n') {
        appendLine(out, payload.substring(lineStart, i));
        if (c == '\r' && i + 1 < n && payload.charAt(i + 1) == '\n') {
          i++;
        }
        lineStart = i + 1;
      }
    }
    appendLine(out, payload.substring(lineStart));
  }

  private static void appendLine(Buffer out, String line) {
    out.appendString(line.startsWith(" ") ? "data: " : "data:").appendString(line).appendString("\n");
  }

  private void finish() {
    if (done) {
      return;
    }
    done = true;
    if (heartbeat >= 0) {
      services.vertx().cancelTimer(heartbeat);
    }
    if (expiry >= 0) {
      services.vertx().cancelTimer(expiry);
    }
    subscription.close();
    release.run();
  }
}
