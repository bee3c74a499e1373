package io.tether.stream;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * JSON mode of the protocol: a body that is an array contributes its elements as messages (one level
 * of flattening), any other JSON value is one message. An append is stored as one event whose payload
 * is its messages joined by commas, so a read is {@code "[" + join(events, ",") + "]"} with no
 * re-encoding. Message text is kept byte for byte as the producer sent it.
 */
public final class JsonBatch {

  private static final JsonFactory FACTORY = JsonFactory.builder().build();

  private final byte[] payload;
  private final int messageCount;

  private JsonBatch(byte[] payload, int messageCount) {
    this.payload = payload;
    this.messageCount = messageCount;
  }

  /** Comma-joined messages, empty when the body was an empty array. */
  public byte[] payload() {
    return payload;
  }

  public int messageCount() {
    return messageCount;
  }

  /**
   * Validates and flattens a request body.
   *
   * @throws IllegalArgumentException when the body is not exactly one JSON value
   */
  public static JsonBatch parse(byte[] body) {
    requireUtf8(body);
    List<byte[]> messages = split(body, 0, body.length, true);
    return new JsonBatch(join(messages), messages.size());
  }

  /**
   * JSON on the wire is UTF-8 (RFC 8259 section 8.1). Jackson would otherwise detect UTF-16 or UTF-32
   * from zero bytes or a byte-order mark, and its token locations would then count characters, not the
   * bytes this class slices by. A zero byte can never appear in UTF-8 JSON text (control characters
   * must be escaped), and 0xFE/0xFF (the byte-order marks) never appear in UTF-8: refusing both, and any
   * other malformed UTF-8, leaves Jackson one encoding to read.
   */
  static void requireUtf8(byte[] body) {
    int i = 0;
    int n = body.length;
    while (i < n) {
      int b = body[i] & 0xFF;
      if (b < 0x80) {
        if (b == 0) {
          throw new IllegalArgumentException("a zero byte (JSON must be UTF-8)");
        }
        i++;
        continue;
      }
      int extra;
      int min;
      if (b >= 0xC2 && b <= 0xDF) {
        extra = 1;
        min = 0x80;
      } else if (b >= 0xE0 && b <= 0xEF) {
        extra = 2;
        min = 0x800;
      } else if (b >= 0xF0 && b <= 0xF4) {
        extra = 3;
        min = 0x10000;
      } else {
        throw new IllegalArgumentException("malformed UTF-8 at byte " + i + " (JSON must be UTF-8)");
      }
      if (i + extra >= n) {
        throw new IllegalArgumentException("truncated UTF-8 at byte " + i + " (JSON must be UTF-8)");
      }
      int cp = b & (0x3F >> extra);
      for (int k = 1; k <= extra; k++) {
        int c = body[i + k] & 0xFF;
        if ((c & 0xC0) != 0x80) {
          throw new IllegalArgumentException("malformed UTF-8 at byte " + i + " (JSON must be UTF-8)");
        }
        cp = cp << 6 | (c & 0x3F);
      }
      if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        throw new IllegalArgumentException("malformed UTF-8 at byte " + i + " (JSON must be UTF-8)");
      }
      i += extra + 1;
    }
  }

  /** The messages of a stored event payload (as produced by {@link #parse}). */
  public static List<byte[]> messagesOf(byte[] payload) {
    if (payload.length == 0) {
      return List.of();
    }
    byte[] wrapped = new byte[payload.length + 2];
    wrapped[0] = '[';
    System.arraycopy(payload, 0, wrapped, 1, payload.length);
    wrapped[wrapped.length - 1] = ']';
    return split(wrapped, 0, wrapped.length, true);
  }

  public static byte[] join(List<byte[]> messages) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < messages.size(); i++) {
      if (i > 0) {
        out.write(',');
      }
      out.writeBytes(messages.get(i));
    }
    return out.toByteArray();
  }

  private static List<byte[]> split(byte[] body, int from, int to, boolean flattenArray) {
    try (JsonParser parser = FACTORY.createParser(body, from, to - from)) {
      JsonToken first = parser.nextToken();
      if (first == null) {
        throw new IllegalArgumentException("body is not JSON");
      }
      List<byte[]> messages = new ArrayList<>();
      if (first == JsonToken.START_ARRAY && flattenArray) {
        List<Integer> starts = new ArrayList<>();
        JsonToken token;
        while ((token = parser.nextToken()) != JsonToken.END_ARRAY) {
          if (token == null) {
            throw new IllegalArgumentException("unterminated JSON array");
          }
          starts.add((int) parser.currentTokenLocation().getByteOffset() + from);
          parser.skipChildren();
        }
        int endArray = (int) parser.currentTokenLocation().getByteOffset() + from;
        for (int i = 0; i < starts.size(); i++) {
          int start = starts.get(i);
          int boundary = i + 1 < starts.size() ? starts.get(i + 1) : endArray;
          messages.add(slice(body, start, trimSeparator(body, start, boundary)));
        }
      } else {
        int start = (int) parser.currentTokenLocation().getByteOffset() + from;
        parser.skipChildren();
        messages.add(slice(body, start, trimSeparator(body, start, to)));
      }
      if (parser.nextToken() != null) {
        throw new IllegalArgumentException("trailing content after JSON value");
      }
      return messages;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("invalid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new IllegalArgumentException("invalid JSON", e);
    }
  }

  /** End of an element that runs up to {@code boundary}: drops trailing whitespace and one comma. */
  private static int trimSeparator(byte[] body, int start, int boundary) {
    int end = boundary;
    while (end > start && isWhitespace(body[end - 1])) {
      end--;
    }
    if (end > start && body[end - 1] == ',') {
      end--;
      while (end > start && isWhitespace(body[end - 1])) {
        end--;
      }
    }
    return end;
  }

  private static boolean isWhitespace(byte b) {
    return b == ' ' || b == '\n' || b == '\r' || b == '\t';
  }

  private static byte[] slice(byte[] body, int start, int end) {
    byte[] out = new byte[end - start];
    System.arraycopy(body, start, out, 0, out.length);
    return out;
  }
}
