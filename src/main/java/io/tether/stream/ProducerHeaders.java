package io.tether.stream;

/**
 * The idempotent-producer triple of the protocol ({@code Producer-Id}, {@code Producer-Epoch},
 * {@code Producer-Seq}).
 */
public record ProducerHeaders(String id, long epoch, long seq) {

  /** Largest epoch or sequence the protocol allows (2^53 - 1, safe in JavaScript). */
  public static final long MAX_VALUE = (1L << 53) - 1;

  public ProducerHeaders {
    if (id == null || id.isEmpty()) {
      throw new IllegalArgumentException("Producer-Id must not be empty");
    }
    if (epoch < 0 || epoch > MAX_VALUE || seq < 0 || seq > MAX_VALUE) {
      throw new IllegalArgumentException("producer epoch and sequence must be in [0, 2^53-1]");
    }
  }
}
