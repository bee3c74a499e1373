package io.tether.transport;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The one place where what a client writes to name a stream becomes the stream's canonical name.
 *
 * <p>Every check that depends on a name (is it a session stream? which token does it need?) runs on
 * the canonical form only, so a name cannot take one form past a check and another to the store. A
 * client may name a stream by a request path ({@code /v1/stream/a%2Fb}), by the value of
 * {@code Stream-Forked-From} (a bare name {@code a/b}, a path, or an absolute URL); each form is
 * percent-decoded once and validated; names with dot segments, empty segments or characters outside
 * the allowed set are refused rather than normalised, so no two spellings reach different checks.
 */
public final class StreamNames {

  static final int MAX_NAME_LENGTH = 256;

  private StreamNames() {
  }

  /** The name in a request path {@code /v1/stream/<name>} (raw, as received), decoded and validated. */
  public static String fromPath(String rawPath) {
    if (rawPath == null || !rawPath.startsWith(ProtocolHeaders.STREAM_PREFIX)) {
      throw invalid("stream URLs have the form /v1/stream/{name}");
    }
    return validate(decode(rawPath.substring(ProtocolHeaders.STREAM_PREFIX.length())));
  }

  /**
   * The stream a header names: a bare name, a path {@code /v1/stream/<name>}, or an absolute
   * {@code http(s)} URL whose path is one. Decoded and validated like a request path.
   */
  public static String fromReference(String value) {
    String v = value == null ? "" : value.trim();
    if (v.regionMatches(true, 0, "http://", 0, 7) || v.regionMatches(true, 0, "https://", 0, 8)) {
      URI uri;
      try {
        uri = new URI(v);
      } catch (URISyntaxException e) {
        throw invalid("the stream reference is not a valid URL");
      }
      if (uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawPath() == null) {
        throw invalid("a stream URL has no query or fragment");
      }
      return fromPath(uri.getRawPath());
    }
    if (v.startsWith("/")) {
      return fromPath(v);
    }
    return validate(decode(v));
  }

  /** Validates an already decoded name: 1-256 allowed characters, no empty, {@code .} or {@code ..} segment. */
  public static String validate(String name) {
    // By hand rather than with a regular expression and a split: this runs for every request.
    int length = name.length();
    boolean valid = length > 0 && length <= MAX_NAME_LENGTH;
    for (int i = 0; valid && i < length; i++) {
      char c = name.charAt(i);
      valid = c == '/' ? i > 0 && i < length - 1 && name.charAt(i - 1) != '/' : allowed(c);
    }
    if (!valid) {
      throw invalid("stream names are 1-256 characters of A-Z a-z 0-9 . _ ~ : @ - and / between segments");
    }
    int start = 0;
    for (int i = 0; i <= length; i++) {
      if (i == length || name.charAt(i) == '/') {
        int size = i - start;
        if (name.charAt(start) == '.' && (size == 1 || (size == 2 && name.charAt(start + 1) == '.'))) {
          throw invalid("stream names must not contain . or .. segments");
        }
        start = i + 1;
      }
    }
    return name;
  }

  private static boolean allowed(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '.' || c == '_' || c == '~' || c == ':' || c == '@' || c == '-';
  }

  /** Percent-decodes once (strict: every {@code %} starts two hex digits; the result is UTF-8). */
  static String decode(String raw) {
    if (raw.indexOf('%') < 0) {
      return raw;
    }
    if (raw.length() > MAX_NAME_LENGTH * 3) {
      throw invalid("stream name too long");
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%') {
        if (i + 2 >= raw.length()) {
          throw invalid("malformed percent-encoding in the stream name");
        }
        int hi = Character.digit(raw.charAt(i + 1), 16);
        int lo = Character.digit(raw.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) {
          throw invalid("malformed percent-encoding in the stream name");
        }
        bytes.write(hi << 4 | lo);
        i += 2;
      } else if (c < 0x80) {
        bytes.write(c);
      } else {
        throw invalid("stream names are ASCII");
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
    } catch (CharacterCodingException e) {
      throw invalid("the stream name is not UTF-8");
    }
  }

  private static ApiError.Refusal invalid(String message) {
    return new ApiError.Refusal(400, "invalid_stream_name", message);
  }
}
