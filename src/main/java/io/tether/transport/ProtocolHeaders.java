package io.tether.transport;

import io.tether.stream.ContentTypes;
import io.tether.stream.ForkSpec;
import io.tether.stream.Offset;
import io.tether.stream.ProducerHeaders;
import io.tether.stream.ReadStart;
import io.vertx.core.MultiMap;

import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/** Names and parsers of the Durable Streams protocol headers and query parameters. */
public final class ProtocolHeaders {

  public static final String NEXT_OFFSET = "Stream-Next-Offset";
  public static final String UP_TO_DATE = "Stream-Up-To-Date";
  public static final String CLOSED = "Stream-Closed";
  public static final String CURSOR = "Stream-Cursor";
  public static final String SEQ = "Stream-Seq";
  public static final String TTL = "Stream-TTL";
  public static final String EXPIRES_AT = "Stream-Expires-At";
  public static final String FORKED_FROM = "Stream-Forked-From";
  public static final String FORK_OFFSET = "Stream-Fork-Offset";
  public static final String FORK_SUB_OFFSET = "Stream-Fork-Sub-Offset";
  public static final String SSE_ENCODING = "Stream-SSE-Data-Encoding";
  public static final String PRODUCER_ID = "Producer-Id";
  public static final String PRODUCER_EPOCH = "Producer-Epoch";
  public static final String PRODUCER_SEQ = "Producer-Seq";
  public static final String PRODUCER_EXPECTED_SEQ = "Producer-Expected-Seq";
  public static final String PRODUCER_RECEIVED_SEQ = "Producer-Received-Seq";

  /** Path prefix of every stream URL. */
  public static final String STREAM_PREFIX = "/v1/stream/";

  private static final Pattern NON_NEGATIVE = Pattern.compile("0|[1-9][0-9]*");

  private ProtocolHeaders() {
  }

  /** Stream name from a request path ({@code /v1/stream/<name>}, raw), decoded and validated. */
  public static String streamName(String path) {
    return StreamNames.fromPath(path);
  }

  public static void validateName(String name) {
    StreamNames.validate(name);
  }

  /** {@code true} only for the value {@code true} (any case); every other value means absent. */
  public static boolean flag(String value) {
    return value != null && value.trim().equalsIgnoreCase("true");
  }

  /** Non-negative decimal integer without sign, leading zeros, decimal point or exponent. */
  public static long nonNegative(String value, String header, long max) {
    String v = value.trim();
    if (!NON_NEGATIVE.matcher(v).matches() || v.length() > 16) {
      throw new ApiError.Refusal(400, "invalid_header", header + " must be a non-negative integer without sign or leading zeros");
    }
    long parsed = Long.parseLong(v);
    if (parsed > max) {
      throw new ApiError.Refusal(400, "invalid_header", header + " must not exceed " + max);
    }
    return parsed;
  }

  public static long ttlSeconds(MultiMap headers) {
    String ttl = headers.get(TTL);
    return ttl == null ? -1 : nonNegative(ttl, TTL, 10L * 365 * 24 * 3600 * 100);
  }

  public static long expiresAtMillis(MultiMap headers) {
    String value = headers.get(EXPIRES_AT);
    if (value == null) {
      return -1;
    }
    OffsetDateTime at;
    try {
      at = OffsetDateTime.parse(value.trim());
    } catch (DateTimeParseException e) {
      throw new ApiError.Refusal(400, "invalid_header", EXPIRES_AT + " must be an RFC 3339 timestamp");
    }
    // Years outside 1970-9999 are not timestamps a stream can expire at (and some do not fit in epoch
    // milliseconds at all).
    if (at.getYear() < 1970 || at.getYear() > 9999 || at.toInstant().getEpochSecond() < 0) {
      throw new ApiError.Refusal(400, "invalid_header", EXPIRES_AT + " must be a time between 1970 and 9999");
    }
    return at.toInstant().toEpochMilli();
  }

  /** The request content type, validated; {@code null} when absent or empty. */
  public static String contentType(MultiMap headers) {
    String value = headers.get("Content-Type");
    if (value == null || value.isBlank()) {
      return null;
    }
    if (!ContentTypes.isValid(value)) {
      throw new ApiError.Refusal(400, "invalid_content_type", "Content-Type must be a media type such as text/plain");
    }
    return value.trim();
  }

  /** Idempotent producer headers: all three or none. */
  public static ProducerHeaders producer(MultiMap headers) {
    String id = headers.get(PRODUCER_ID);
    String epoch = headers.get(PRODUCER_EPOCH);
    String seq = headers.get(PRODUCER_SEQ);
    if (id == null && epoch == null && seq == null) {
      return null;
    }
    if (id == null || epoch == null || seq == null) {
      throw new ApiError.Refusal(400, "invalid_producer",
          "Producer-Id, Producer-Epoch and Producer-Seq must be sent together");
    }
    checkProducerId(id);
    long e = nonNegative(epoch, PRODUCER_EPOCH, ProducerHeaders.MAX_VALUE);
    long s = nonNegative(seq, PRODUCER_SEQ, ProducerHeaders.MAX_VALUE);
    return new ProducerHeaders(id, e, s);
  }

  /** Longest {@code Producer-Id}, in UTF-8 bytes: every stream remembers the ids of its producers. */
  public static final int MAX_PRODUCER_ID_BYTES = 256;

  /** A producer id (HTTP header or WebSocket frame): non-empty, at most {@value #MAX_PRODUCER_ID_BYTES} bytes. */
  public static void checkProducerId(String id) {
    if (id.isEmpty()) {
      throw new ApiError.Refusal(400, "invalid_producer", "Producer-Id must not be empty");
    }
    if (id.length() > MAX_PRODUCER_ID_BYTES
        || id.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_PRODUCER_ID_BYTES) {
      throw new ApiError.Refusal(400, "invalid_producer",
          "Producer-Id must not exceed " + MAX_PRODUCER_ID_BYTES + " bytes");
    }
  }

  /** Fork headers of a PUT, or {@code null}. */
  public static ForkSpec fork(MultiMap headers) {
    String from = headers.get(FORKED_FROM);
    String offset = headers.get(FORK_OFFSET);
    String sub = headers.get(FORK_SUB_OFFSET);
    if (from == null) {
      if (offset != null || sub != null) {
        throw new ApiError.Refusal(400, "invalid_fork", "fork headers need Stream-Forked-From");
      }
      return null;
    }
    String source = StreamNames.fromReference(from);
    Offset forkOffset = null;
    if (offset != null) {
      try {
        ReadStart start = ReadStart.parse(offset.trim());
        if (start instanceof ReadStart.At at) {
          forkOffset = at.offset();
        } else if (start instanceof ReadStart.Beginning) {
          forkOffset = Offset.ZERO;
        }
      } catch (IllegalArgumentException e) {
        throw new ApiError.Refusal(400, "invalid_offset", "Stream-Fork-Offset is not a valid offset");
      }
    }
    long subOffset = sub == null ? 0 : nonNegative(sub, FORK_SUB_OFFSET, Integer.MAX_VALUE);
    if (subOffset > 0 && offset == null) {
      throw new ApiError.Refusal(400, "invalid_fork", "Stream-Fork-Sub-Offset needs Stream-Fork-Offset");
    }
    return new ForkSpec(source, forkOffset, subOffset);
  }

  /** The {@code offset} query parameter: exactly one, non-empty, well-formed; {@code null} when absent. */
  public static ReadStart offset(MultiMap params) {
    List<String> values = params.getAll("offset");
    if (values.isEmpty()) {
      return null;
    }
    if (values.size() > 1) {
      throw new ApiError.Refusal(400, "invalid_offset", "only one offset parameter is allowed");
    }
    String value = values.get(0);
    if (value.isEmpty()) {
      throw new ApiError.Refusal(400, "invalid_offset", "offset must not be empty");
    }
    try {
      return ReadStart.parse(value);
    } catch (IllegalArgumentException e) {
      throw new ApiError.Refusal(400, "invalid_offset",
          "offset must be -1, now, or an offset returned by the server (16 digits _ 16 digits)");
    }
  }

  /** The {@code live} query parameter: {@code null}, {@code long-poll}, {@code sse} or {@code ws}. */
  public static String live(MultiMap params) {
    String live = params.get("live");
    if (live == null) {
      return null;
    }
    String mode = live.toLowerCase(Locale.ROOT);
    if (!mode.equals("long-poll") && !mode.equals("sse") && !mode.equals("ws")) {
      throw new ApiError.Refusal(400, "invalid_live_mode", "live must be long-poll, sse or ws");
    }
    return mode;
  }
}
