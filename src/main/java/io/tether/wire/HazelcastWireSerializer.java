package io.tether.wire;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.StreamSerializer;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Hazelcast serializer for every {@link WireMessage}: the replicated stream state, entry processors
 * and their results. Registered for the {@link WireMessage} interface, which Hazelcast resolves for
 * every implementing class.
 */
public final class HazelcastWireSerializer implements StreamSerializer<WireMessage> {

  public static final int TYPE_ID = 7301;

  @Override
  public int getTypeId() {
    return TYPE_ID;
  }

  @Override
  public void write(ObjectDataOutput out, WireMessage message) throws IOException {
    try {
      new Out(out).writeMessage(message);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  @Override
  public WireMessage read(ObjectDataInput in) throws IOException {
    try {
      return new In(in).readMessage();
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  private record Out(ObjectDataOutput out) implements WireOutput {
    @Override
    public void writeByte(int value) {
      try {
        out.writeByte(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void writeBoolean(boolean value) {
      try {
        out.writeBoolean(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void writeInt(int value) {
      try {
        out.writeInt(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void writeLong(long value) {
      try {
        out.writeLong(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void writeString(String value) {
      try {
        out.writeString(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void writeBytes(byte[] value) {
      try {
        out.writeByteArray(value);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private record In(ObjectDataInput in) implements WireInput {
    @Override
    public int readByte() {
      try {
        return in.readByte();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public boolean readBoolean() {
      try {
        return in.readBoolean();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public int readInt() {
      try {
        return in.readInt();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public long readLong() {
      try {
        return in.readLong();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public String readString() {
      try {
        return in.readString();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public byte[] readBytes() {
      try {
        return in.readByteArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
