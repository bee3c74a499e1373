package io.tether.transport;

import io.tether.stream.ContentTypes;
import io.vertx.core.buffer.Buffer;

import java.util.Base64;
import java.util.List;

/**
 * How a stream's events appear on the wire, by content type: JSON streams as one array of all the
 * events' messages, other streams as the concatenated bytes; SSE and WebSocket frames carry text and
 * JSON as UTF-8 and everything else as base64.
 */
public final class EventFormat {

  private final boolean json;
  private final boolean text;

  private EventFormat(String contentType) {
    this.json = ContentTypes.isJson(contentType);
    this.text = ContentTypes.isText(contentType);
  }

  public static EventFormat of(String contentType) {
    return new EventFormat(contentType);
  }

  public boolean json() {
    return json;
  }

  /** Whether SSE/WebSocket frames need base64. */
  public boolean binary() {
    return !text;
  }

  /** HTTP response body for a catch-up or long-poll read. */
  public Buffer body(List<byte[]> events) {
    Buffer out = Buffer.buffer();
    if (json) {
      out.appendByte((byte) '[');
    }
    boolean first = true;
    for (byte[] event : events) {
      if (json && event.length == 0) {
        continue;
      }
      if (json && !first) {
        out.appendByte((byte) ',');
      }
      out.appendBytes(event);
      first = false;
    }
    if (json) {
      out.appendByte((byte) ']');
    }
    return out;
  }

  /** Payload of one SSE {@code data} event or WebSocket frame: text, JSON array, or base64. */
  public String frameText(List<byte[]> events) {
    Buffer body = body(events);
    return text ? body.toString(java.nio.charset.StandardCharsets.UTF_8) : Base64.getEncoder().encodeToString(body.getBytes());
  }
}
