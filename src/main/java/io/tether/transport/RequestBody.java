package io.tether.transport;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;

/**
 * Reads a request body up to a limit. An oversized body is drained (so the client sees the 413 rather
 * than a reset connection) unless it exceeds four times the limit, where the connection is closed.
 *
 * <p>{@link #handler} runs first for every request that may carry a body: the whole request is read
 * before any handler answers. Answering a keep-alive HTTP/1.1 request before its end has been read
 * can leave the connection unusable for the client's next request, so no refusal is sent early.
 */
final class RequestBody {

  private static final String KEY = "tether.body";

  private RequestBody() {
  }

  /** Router handler: reads the body (any method but GET, HEAD and OPTIONS), then continues. */
  static io.vertx.core.Handler<io.vertx.ext.web.RoutingContext> handler(int limit) {
    return ctx -> {
      io.vertx.core.http.HttpMethod method = ctx.request().method();
      if (method == io.vertx.core.http.HttpMethod.GET || method == io.vertx.core.http.HttpMethod.HEAD
          || method == io.vertx.core.http.HttpMethod.OPTIONS || ctx.request().isEnded()) {
        ctx.next();
        return;
      }
      read(ctx.request(), limit).onComplete(ar -> {
        if (ar.succeeded()) {
          ctx.put(KEY, ar.result());
          ctx.next();
        } else {
          Replies.failure(ar.cause()).send(ctx.response());
        }
      });
    };
  }

  /** The body read by {@link #handler}; empty when the request had none. */
  static Buffer of(io.vertx.ext.web.RoutingContext ctx) {
    Buffer body = ctx.get(KEY);
    return body == null ? Buffer.buffer() : body;
  }

  static Future<Buffer> read(HttpServerRequest request, int limit) {
    Promise<Buffer> promise = Promise.promise();
    String length = request.getHeader("Content-Length");
    long declared = -1;
    if (length != null) {
      try {
        declared = Long.parseLong(length.trim());
      } catch (NumberFormatException e) {
        request.connection().close();
        return Future.failedFuture(new ApiError.Refusal(400, "invalid_header", "Content-Length is not a number"));
      }
    }
    Buffer body = Buffer.buffer(declared > 0 && declared <= limit ? (int) declared : 256);
    long[] received = {0};
    boolean[] tooLarge = {declared > limit};
    request.handler(chunk -> {
      received[0] += chunk.length();
      if (received[0] > limit) {
        tooLarge[0] = true;
      }
      if (tooLarge[0]) {
        if (received[0] > 4L * limit) {
          request.connection().close();
          promise.tryFail(tooLarge(limit));
        }
        return;
      }
      body.appendBuffer(chunk);
    });
    request.exceptionHandler(promise::tryFail);
    request.endHandler(v -> {
      if (tooLarge[0]) {
        promise.tryFail(tooLarge(limit));
      } else {
        promise.tryComplete(body);
      }
    });
    request.resume();
    return promise.future();
  }

  private static ApiError.Refusal tooLarge(int limit) {
    return new ApiError.Refusal(413, "payload_too_large", "request body exceeds " + limit + " bytes");
  }
}
