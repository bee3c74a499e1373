package io.tether.wire;

import java.util.List;

/** Sink for the fields of a {@link WireMessage}. Strings and byte arrays may be {@code null}. */
public interface WireOutput {

  void writeByte(int value);

  void writeBoolean(boolean value);

  void writeInt(int value);

  void writeLong(long value);

  void writeString(String value);

  void writeBytes(byte[] value);

  default void writeByteList(List<byte[]> values) {
    writeInt(values.size());
    for (byte[] value : values) {
      writeBytes(value);
    }
  }

  default void writeMessage(WireMessage message) {
    if (message == null) {
      writeInt(-1);
    } else {
      writeInt(message.wireType());
      message.writeTo(this);
    }
  }
}
