package io.tether.wire;

import io.vertx.core.buffer.Buffer;

import java.nio.charset.StandardCharsets;

/** {@link WireOutput} and {@link WireInput} over a Vert.x {@link Buffer}, used by the event-bus codec. */
public final class BufferWire {

  private BufferWire() {
  }

  public static final class Out implements WireOutput {
    private final Buffer buffer;

    public Out(Buffer buffer) {
      this.buffer = buffer;
    }

    @Override
    public void writeByte(int value) {
      buffer.appendByte((byte) value);
    }

    @Override
    public void writeBoolean(boolean value) {
      buffer.appendByte((byte) (value ? 1 : 0));
    }

    @Override
    public void writeInt(int value) {
      buffer.appendInt(value);
    }

    @Override
    public void writeLong(long value) {
      buffer.appendLong(value);
    }

    @Override
    public void writeString(String value) {
      writeBytes(value == null ? null : value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void writeBytes(byte[] value) {
      if (value == null) {
        buffer.appendInt(-1);
      } else {
        buffer.appendInt(value.length);
        buffer.appendBytes(value);
      }
    }
  }

  public static final class In implements WireInput {
    private final Buffer buffer;
    private int pos;

    public In(Buffer buffer, int pos) {
      this.buffer = buffer;
      this.pos = pos;
    }

    public int position() {
      return pos;
    }

    @Override
    public int readByte() {
      return buffer.getByte(pos++);
    }

    @Override
    public boolean readBoolean() {
      return buffer.getByte(pos++) != 0;
    }

    @Override
    public int readInt() {
      int value = buffer.getInt(pos);
      pos += 4;
      return value;
    }

    @Override
    public long readLong() {
      long value = buffer.getLong(pos);
      pos += 8;
      return value;
    }

    @Override
    public String readString() {
      byte[] bytes = readBytes();
      return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public byte[] readBytes() {
      int length = readInt();
      if (length < 0) {
        return null;
      }
      byte[] bytes = buffer.getBytes(pos, pos + length);
      pos += length;
      return bytes;
    }
  }
}
