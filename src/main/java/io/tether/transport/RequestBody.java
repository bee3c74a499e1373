package io.tether.transport;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;

/**
 * Reads a request body up to a limit. An oversized body is drained (so the client sees the 413 rather
 * than a reset connection) unless it exceeds four times the limit, where the connection is closed.
 */
final class RequestBody {

  private RequestBody() {
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
