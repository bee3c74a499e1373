package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireOutput;

/**
 * One append as validated by the transport layer.
 *
 * @param payload     the event payload (for JSON streams already flattened by {@link JsonBatch}); empty
 *                    for a close-only request
 * @param contentType the request's content type, {@code null} when the body is empty
 * @param close       close the stream atomically after the append ({@code Stream-Closed: true})
 * @param streamSeq   the {@code Stream-Seq} header, or {@code null}
 * @param producer    idempotent producer headers, or {@code null}
 */
public record AppendSpec(byte[] payload, String contentType, boolean close, String streamSeq, ProducerHeaders producer) {

  public AppendSpec {
    payload = payload == null ? new byte[0] : payload;
    if (payload.length == 0 && !close) {
      throw new IllegalArgumentException("an append needs a body unless it closes the stream");
    }
  }

  public boolean hasData() {
    return payload.length > 0;
  }

  public void writeTo(WireOutput out) {
    out.writeBytes(payload);
    out.writeString(contentType);
    out.writeBoolean(close);
    out.writeString(streamSeq);
    out.writeBoolean(producer != null);
    if (producer != null) {
      out.writeString(producer.id());
      out.writeLong(producer.epoch());
      out.writeLong(producer.seq());
    }
  }

  public static AppendSpec readFrom(WireInput in) {
    byte[] payload = in.readBytes();
    String contentType = in.readString();
    boolean close = in.readBoolean();
    String streamSeq = in.readString();
    ProducerHeaders producer = in.readBoolean() ? new ProducerHeaders(in.readString(), in.readLong(), in.readLong()) : null;
    return new AppendSpec(payload, contentType, close, streamSeq, producer);
  }
}
