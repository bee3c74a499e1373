package io.tether.stream;

/**
 * Where a read begins: the stream's beginning ({@code offset=-1}), its current tail ({@code offset=now})
 * or an explicit {@link Offset}.
 */
public sealed interface ReadStart {

  Beginning BEGINNING = new Beginning();
  Now NOW = new Now();

  record Beginning() implements ReadStart {
    @Override
    public String toString() {
      return "-1";
    }
  }

  record Now() implements ReadStart {
    @Override
    public String toString() {
      return "now";
    }
  }

  record At(Offset offset) implements ReadStart {
    @Override
    public String toString() {
      return offset.toString();
    }
  }

  /**
   * Parses the {@code offset} query parameter of the Durable Streams protocol.
   *
   * @throws IllegalArgumentException for anything but {@code -1}, {@code now} or a well-formed offset
   */
  static ReadStart parse(String text) {
    if ("-1".equals(text)) {
      return BEGINNING;
    }
    if ("now".equals(text)) {
      return NOW;
    }
    return new At(Offset.parse(text));
  }

  /** Encodes for the wire: -1 beginning, -2 now, else the index (bytes follow separately). */
  default long wireIndex() {
    if (this instanceof Beginning) {
      return -1;
    }
    if (this instanceof Now) {
      return -2;
    }
    return ((At) this).offset().index();
  }

  default long wireBytes() {
    return this instanceof At at ? at.offset().bytes() : 0;
  }

  static ReadStart fromWire(long index, long bytes) {
    if (index == -1) {
      return BEGINNING;
    }
    if (index == -2) {
      return NOW;
    }
    return new At(new Offset(index, bytes));
  }
}
