package io.tether.wire;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.StreamSerializer;

import java.io.IOException;

/**
 * Hazelcast serializer for every {@link WireMessage}: the replicated stream state, entry processors
 * and their results, in the framed, version-tolerant encoding of {@link BufferWire} (as one byte
 * array). Registered for the {@link WireMessage} interface, which Hazelcast resolves for every
 * implementing class.
 */
public final class HazelcastWireSerializer implements StreamSerializer<WireMessage> {

  public static final int TYPE_ID = 7301;

  @Override
  public int getTypeId() {
    return TYPE_ID;
  }

  @Override
  public void write(ObjectDataOutput out, WireMessage message) throws IOException {
    out.writeByteArray(BufferWire.encode(message));
  }

  @Override
  public WireMessage read(ObjectDataInput in) throws IOException {
    byte[] bytes = in.readByteArray();
    if (bytes == null) {
      throw new IOException("a wire message without bytes");
    }
    try {
      return BufferWire.decode(bytes);
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage(), e);
    }
  }
}
