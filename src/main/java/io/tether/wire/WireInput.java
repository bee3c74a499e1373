package io.tether.wire;

import java.util.ArrayList;
import java.util.List;

/** Source of the fields of a {@link WireMessage}, read in the order they were written. */
public interface WireInput {

  int readByte();

  boolean readBoolean();

  int readInt();

  long readLong();

  String readString();

  byte[] readBytes();

  /** Whether the message being read has fields left: false once past what its writer wrote. */
  boolean hasRemaining();

  default List<byte[]> readByteList() {
    int size = readInt();
    List<byte[]> values = new ArrayList<>(size);
    for (int i = 0; i < size; i++) {
      values.add(readBytes());
    }
    return values;
  }

  @SuppressWarnings("unchecked")
  default <T extends WireMessage> T readMessage() {
    int type = readInt();
    return type < 0 ? null : (T) WireTypes.decode(type, this);
  }
}
