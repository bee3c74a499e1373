package io.tether.transport;

import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A refusal as clients see it: an HTTP status, a stable machine-readable code, a human message and,
 * for some refusals, protocol headers. The body is always
 * {@code {"error":{"code":"...","message":"..."}}}; every code is listed in {@code docs/errors.md}.
 */
public record ApiError(int status, String code, String message, Map<String, String> headers) {

  public ApiError {
    headers = headers == null ? Map.of() : Map.copyOf(headers);
  }

  public static ApiError of(int status, String code, String message) {
    return new ApiError(status, code, message, Map.of());
  }

  public ApiError withHeader(String name, String value) {
    Map<String, String> h = new LinkedHashMap<>(headers);
    h.put(name, value);
    return new ApiError(status, code, message, h);
  }

  public JsonObject body() {
    return new JsonObject().put("error", new JsonObject().put("code", code).put("message", message));
  }

  /** Writes this error as the complete response (unless one was already sent). */
  public void send(HttpServerResponse response) {
    if (response.ended() || response.headWritten()) {
      if (!response.ended()) {
        response.end();
      }
      return;
    }
    response.setStatusCode(status);
    headers.forEach(response::putHeader);
    response.putHeader("Content-Type", "application/json");
    response.putHeader("Cache-Control", "no-store");
    response.end(body().encode());
  }

  /**
   * Writes this error with {@code Connection: close} and closes the connection once it is written: for
   * refusals after which the rest of the request will not be read.
   */
  public void sendAndClose(HttpServerResponse response, io.vertx.core.http.HttpConnection connection) {
    if (response.ended() || response.headWritten()) {
      connection.close();
      return;
    }
    response.setStatusCode(status);
    headers.forEach(response::putHeader);
    response.putHeader("Content-Type", "application/json");
    response.putHeader("Cache-Control", "no-store");
    response.putHeader("Connection", "close");
    response.end(body().encode()).onComplete(ar -> connection.close());
  }

  /** Thrown by request parsing; the handler turns it into the response. */
  public static final class Refusal extends RuntimeException {
    private final ApiError error;

    public Refusal(ApiError error) {
      super(error.message(), null, false, false);
      this.error = error;
    }

    public Refusal(int status, String code, String message) {
      this(ApiError.of(status, code, message));
    }

    public ApiError error() {
      return error;
    }
  }
}
