package io.tether.wire;

import io.vertx.core.buffer.Buffer;

import java.nio.charset.StandardCharsets;

/**
 * The one encoding of {@link WireMessage}s, over a Vert.x {@link Buffer}: the event-bus codec writes
 * into the message buffer, the Hazelcast serializer into a byte array.
 *
 * <p>Each message is framed so that nodes of different versions can talk during a rolling upgrade:
 * <pre>
 *   int type id | byte frame version | int body length | body (the fields, in the order written)
 * </pre>
 * A reader decodes the fields it knows and skips the rest of the body (fields a newer writer appended);
 * a field read past the end of the body (one an older writer did not have) reads as its zero value:
 * {@code 0}, {@code false}, {@code null}, an empty list, no message. The rules for changing a message
 * follow: append fields only, never remove, reorder or re-type one, and give a new field a meaning for
 * its zero value ("absent"). A frame version this node does not know is refused with a clear error.
 */
public final class BufferWire {

  /** The frame layout above. A change to the frame itself (not to a message's fields) bumps it. */
  public static final int FRAME_VERSION = 1;

  /**
   * Test variant (system property {@code tether.wire.extension=true}): every message gains a trailing
   * field, as a newer version that added one would write, and a reader checks it when it is there. Nodes
   * with and without it must work together; the mixed-version upgrade test rolls a cluster across them.
   */
  static final boolean EXTENSION = Boolean.getBoolean("tether.wire.extension");
  static final long EXTENSION_MARK = 0x7e7e_5e7e_7e7e_5e7eL;

  private BufferWire() {
  }

  /** Encodes {@code message} (framed) into a new byte array. */
  public static byte[] encode(WireMessage message) {
    Buffer buffer = Buffer.buffer(128);
    new Out(buffer).writeMessage(message);
    return buffer.getBytes();
  }

  /** Decodes one framed message from {@code bytes}. */
  public static WireMessage decode(byte[] bytes) {
    return new In(Buffer.buffer(bytes), 0, bytes.length).readMessage();
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

    @Override
    public void writeMessage(WireMessage message) {
      if (message == null) {
        buffer.appendInt(-1);
        return;
      }
      buffer.appendInt(message.wireType());
      buffer.appendByte((byte) FRAME_VERSION);
      int lengthAt = buffer.length();
      buffer.appendInt(0);
      message.writeTo(this);
      if (EXTENSION) {
        buffer.appendLong(EXTENSION_MARK);
      }
      buffer.setInt(lengthAt, buffer.length() - lengthAt - 4);
    }
  }

  /**
   * Reads fields up to a limit: the end of the innermost message being decoded. Past it every read
   * answers the zero value of its kind (an older writer did not have the field).
   */
  public static final class In implements WireInput {
    private final Buffer buffer;
    private int pos;
    private int limit;

    public In(Buffer buffer, int pos, int limit) {
      if (pos < 0 || limit > buffer.length() || pos > limit) {
        throw new IllegalArgumentException("bad wire range " + pos + ".." + limit + " of " + buffer.length());
      }
      this.buffer = buffer;
      this.pos = pos;
      this.limit = limit;
    }

    public int position() {
      return pos;
    }

    @Override
    public boolean hasRemaining() {
      return pos < limit;
    }

    private boolean has(int bytes) {
      if (pos + bytes <= limit) {
        return true;
      }
      if (pos < limit) {
        throw new IllegalArgumentException("truncated wire message: " + (limit - pos) + " bytes left, "
            + bytes + " needed");
      }
      return false;
    }

    @Override
    public int readByte() {
      return has(1) ? buffer.getByte(pos++) : 0;
    }

    @Override
    public boolean readBoolean() {
      return has(1) && buffer.getByte(pos++) != 0;
    }

    @Override
    public int readInt() {
      if (!has(4)) {
        return 0;
      }
      int value = buffer.getInt(pos);
      pos += 4;
      return value;
    }

    @Override
    public long readLong() {
      if (!has(8)) {
        return 0;
      }
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
      if (!has(4)) {
        return null;
      }
      int length = readInt();
      if (length < 0) {
        return null;
      }
      if (!has(length) && length > 0) {
        throw new IllegalArgumentException("truncated wire message: a field of " + length + " bytes");
      }
      byte[] bytes = buffer.getBytes(pos, pos + length);
      pos += length;
      return bytes;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends WireMessage> T readMessage() {
      if (!has(4)) {
        return null;
      }
      int type = readInt();
      if (type < 0) {
        return null;
      }
      int version = readByte();
      if (version != FRAME_VERSION) {
        throw new IllegalArgumentException("wire frame version " + version + " of type " + type
            + " is not readable here (this node reads version " + FRAME_VERSION + ")");
      }
      int length = readInt();
      int end = pos + length;
      if (length < 0 || end > limit) {
        throw new IllegalArgumentException("wire message of type " + type + " claims " + length
            + " bytes, " + (limit - pos) + " are there");
      }
      int outer = limit;
      limit = end;
      T message = (T) WireTypes.decode(type, this);
      if (EXTENSION && pos + 8 <= end) {
        long mark = buffer.getLong(pos);
        if (mark != EXTENSION_MARK) {
          throw new IllegalArgumentException("wire message of type " + type + " carries a bad extension field");
        }
      }
      pos = end;
      limit = outer;
      return message;
    }
  }
}
