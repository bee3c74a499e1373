package io.tether.stream;

import java.util.Locale;

/** Content-type rules of the protocol: comparison by media type, case-insensitive, parameters ignored. */
public final class ContentTypes {

  public static final String DEFAULT = "application/octet-stream";
  public static final String JSON = "application/json";

  private ContentTypes() {
  }

  /** The media type without parameters, lower-cased: {@code "Application/JSON; charset=utf-8"} becomes {@code "application/json"}. */
  public static String mediaType(String contentType) {
    if (contentType == null) {
      return null;
    }
    int semi = contentType.indexOf(';');
    String type = semi < 0 ? contentType : contentType.substring(0, semi);
    return type.trim().toLowerCase(Locale.ROOT);
  }

  public static boolean sameMediaType(String a, String b) {
    return a != null && b != null && mediaType(a).equals(mediaType(b));
  }

  /** Whether the value looks like {@code type/subtype[; params]}. */
  public static boolean isValid(String contentType) {
    String type = mediaType(contentType);
    if (type == null || type.isEmpty()) {
      return false;
    }
    int slash = type.indexOf('/');
    return slash > 0 && slash < type.length() - 1 && type.indexOf('/', slash + 1) < 0
        && type.chars().allMatch(c -> c > 32 && c < 127 && c != '"' && c != ',');
  }

  public static boolean isJson(String contentType) {
    return JSON.equals(mediaType(contentType));
  }

  /** Text and JSON streams travel as UTF-8 in SSE and WebSocket frames; everything else as base64. */
  public static boolean isText(String contentType) {
    String type = mediaType(contentType);
    return type != null && (type.startsWith("text/") || type.equals(JSON));
  }
}
