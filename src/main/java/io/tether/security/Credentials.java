package io.tether.security;

import io.vertx.core.http.HttpServerRequest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/** Reading credentials off a request. */
public final class Credentials {

  private Credentials() {
  }

  /**
   * The bearer credential: {@code Authorization: Bearer …}, else the {@code token} query parameter
   * (browsers cannot set headers on {@code EventSource} or {@code WebSocket}); {@code null} when absent.
   */
  public static String bearer(HttpServerRequest request) {
    String header = request.getHeader("Authorization");
    if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return header.substring(7).trim();
    }
    String query = request.getParam("token");
    return query == null || query.isBlank() ? null : query.trim();
  }

  /** Compares secrets in time independent of where they differ. */
  public static boolean constantTimeEquals(String a, String b) {
    return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }
}
