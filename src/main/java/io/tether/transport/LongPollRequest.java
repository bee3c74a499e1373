package io.tether.transport;

import io.tether.cluster.StreamServices;
import io.tether.cluster.live.LiveSubscription;
import io.tether.stream.Offset;
import io.tether.stream.ReadStart;
import io.tether.stream.StreamReply;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

import java.util.List;

import static io.tether.transport.ProtocolHeaders.CLOSED;
import static io.tether.transport.ProtocolHeaders.CURSOR;
import static io.tether.transport.ProtocolHeaders.NEXT_OFFSET;
import static io.tether.transport.ProtocolHeaders.UP_TO_DATE;

/**
 * {@code GET ...?live=long-poll&offset=...}: answers at once with events past the offset, else waits
 * for the next event (200) or the long-poll timeout (204), or for the stream to close (204 with
 * {@code Stream-Closed}).
 */
final class LongPollRequest implements LiveSubscription.Listener {

  private final StreamServices services;
  private final RoutingContext ctx;
  private final String cursor;
  private final Runnable release;
  private final LiveSubscription subscription;
  private long timer = -1;
  private boolean done;

  private final long expiresAtMillis;

  LongPollRequest(StreamServices services, RoutingContext ctx, String stream, ReadStart start, String cursor,
                  long expiresAtMillis, Runnable release) {
    this.services = services;
    this.ctx = ctx;
    this.cursor = cursor;
    this.release = release;
    this.expiresAtMillis = expiresAtMillis;
    this.subscription = new LiveSubscription(services, stream, start, this);
  }

  void start() {
    // Through the routing context, not response.closeHandler: that would replace the handler Vert.x Web
    // uses to run the end handlers (the drain's request count among them) when a client goes away.
    ctx.addEndHandler(ar -> finish());
    // A wait never outlasts the credential it was admitted with: the next poll presents a new one.
    long wait = Math.min(services.config().longPollSeconds() * 1000L, expiresAtMillis - System.currentTimeMillis());
    timer = services.vertx().setTimer(Math.max(1, wait), t -> timeout());
    subscription.start();
  }

  @Override
  public void onData(Offset start, List<byte[]> events, Offset next, boolean upToDate, boolean closed) {
    if (done) {
      return;
    }
    if (!events.isEmpty()) {
      HttpServerResponse response = ctx.response();
      headers(response, next, upToDate, closed);
      response.putHeader("Content-Type", subscription.settings().contentType());
      response.setStatusCode(200).end(EventFormat.of(subscription.settings().contentType()).body(events));
      finish();
    } else if (closed) {
      HttpServerResponse response = ctx.response();
      headers(response, next, true, true);
      response.setStatusCode(204).end();
      finish();
    }
    // Otherwise caught up: wait for a push or the timeout.
  }

  @Override
  public void onEnd(StreamReply reply, Throwable error) {
    if (done) {
      return;
    }
    (reply != null ? Replies.refusal(reply) : Replies.failure(error)).send(ctx.response());
    finish();
  }

  /** The node shuts down: answer now as a timeout would, so the client polls again (elsewhere). */
  @Override
  public void onNodeShutdown() {
    timeout();
  }

  private void timeout() {
    timer = -1;
    if (done) {
      return;
    }
    HttpServerResponse response = ctx.response();
    if (subscription.position() == null) {
      ApiError.of(503, "node_shutting_down", "this node is shutting down; retry").withHeader("Retry-After", "0")
          .send(response);
    } else {
      headers(response, subscription.position(), true, false);
      response.setStatusCode(204).end();
    }
    finish();
  }

  private void headers(HttpServerResponse response, Offset next, boolean upToDate, boolean closed) {
    response.putHeader("Cache-Control", "no-store");
    if (next != null) {
      response.putHeader(NEXT_OFFSET, next.toString());
    }
    if (upToDate) {
      response.putHeader(UP_TO_DATE, "true");
    }
    if (closed) {
      response.putHeader(CLOSED, "true");
    } else {
      response.putHeader(CURSOR, Cursors.next(cursor, System.currentTimeMillis()));
    }
  }

  private void finish() {
    if (done) {
      return;
    }
    done = true;
    if (timer >= 0) {
      services.vertx().cancelTimer(timer);
    }
    subscription.close();
    release.run();
  }
}
