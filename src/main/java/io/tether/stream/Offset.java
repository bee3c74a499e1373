package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireOutput;

/**
 * A position in a stream, between two events.
 *
 * <p>{@code index} counts the events before the position; {@code bytes} counts their payload bytes.
 * Offsets are dense and monotonic: the event at index {@code i} starts at offset {@code (i, b)} and the
 * next one at {@code (i + 1, b + length)}. The text form is two zero-padded 16-digit decimals joined by
 * an underscore, so text order equals position order, as the Durable Streams protocol requires. The
 * index is authoritative; the byte count is informative (it lets a reader see how much it has read).
 */
public record Offset(long index, long bytes) implements Comparable<Offset> {

  public static final Offset ZERO = new Offset(0, 0);

  private static final int DIGITS = 16;
  private static final long MAX = 9_999_999_999_999_999L;

  public Offset {
    if (index < 0 || bytes < 0 || index > MAX || bytes > MAX) {
      throw new IllegalArgumentException("offset out of range: " + index + "/" + bytes);
    }
  }

  /**
   * Parses the text form.
   *
   * @throws IllegalArgumentException when the text is not exactly {@code \d{16}_\d{16}}
   */
  public static Offset parse(String text) {
    if (text == null || text.length() != DIGITS * 2 + 1 || text.charAt(DIGITS) != '_') {
      throw new IllegalArgumentException("malformed offset");
    }
    return new Offset(parseDigits(text, 0), parseDigits(text, DIGITS + 1));
  }

  private static long parseDigits(String text, int from) {
    long value = 0;
    for (int i = from; i < from + DIGITS; i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        throw new IllegalArgumentException("malformed offset");
      }
      value = value * 10 + (c - '0');
    }
    return value;
  }

  /** The position after an event of {@code length} bytes that starts here. */
  public Offset plus(int length) {
    return new Offset(index + 1, bytes + length);
  }

  @Override
  public int compareTo(Offset other) {
    return Long.compare(index, other.index);
  }

  @Override
  public String toString() {
    char[] out = new char[DIGITS * 2 + 1];
    fill(out, 0, index);
    out[DIGITS] = '_';
    fill(out, DIGITS + 1, bytes);
    return new String(out);
  }

  private static void fill(char[] out, int from, long value) {
    for (int i = from + DIGITS - 1; i >= from; i--) {
      out[i] = (char) ('0' + (value % 10));
      value /= 10;
    }
  }

  /** Writes a nullable offset. */
  public static void write(WireOutput out, Offset offset) {
    out.writeLong(offset == null ? -1 : offset.index());
    out.writeLong(offset == null ? -1 : offset.bytes());
  }

  /** Reads an offset written by {@link #write}. */
  public static Offset read(WireInput in) {
    long index = in.readLong();
    long bytes = in.readLong();
    return index < 0 ? null : new Offset(index, bytes);
  }
}
