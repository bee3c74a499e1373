package io.tether.conversation;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.regex.Pattern;

/**
 * Session ids and the streams that carry them. An id is 128 random bits (unguessable), URL-safe
 * base64; its events live in the stream {@code sessions/{id}}, a name no other stream may take.
 */
public final class SessionIds {

  public static final String STREAM_PREFIX = "sessions/";
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{22}");
  private static final SecureRandom RANDOM = new SecureRandom();

  private SessionIds() {
  }

  public static String newId() {
    byte[] bytes = new byte[16];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  public static boolean isValid(String id) {
    return id != null && ID.matcher(id).matches();
  }

  public static String streamOf(String id) {
    return STREAM_PREFIX + id;
  }

  /** Whether {@code stream} is in the sessions namespace (reserved for the session API). */
  public static boolean isSessionStream(String stream) {
    return stream.startsWith(STREAM_PREFIX);
  }

  /** The session id of a session stream. */
  public static String sessionOf(String stream) {
    return stream.substring(STREAM_PREFIX.length());
  }
}
