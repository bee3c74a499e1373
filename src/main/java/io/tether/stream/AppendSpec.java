package io.tether.stream;

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
}
