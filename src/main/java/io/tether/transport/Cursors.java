package io.tether.transport;

import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code Stream-Cursor} values for CDN request collapsing (protocol section 10.1): the number of
 * 20-second intervals since 2024-10-09T00:00Z. A client echoing a cursor at or past the current
 * interval gets a larger one (with jitter), so cursors never repeat or go backwards for a client.
 */
public final class Cursors {

  private static final long EPOCH_MILLIS = 1_728_432_000_000L;
  private static final long INTERVAL_MILLIS = 20_000;
  private static final int MAX_JITTER = 180;

  private Cursors() {
  }

  public static String next(String clientCursor, long nowMillis) {
    long current = Math.max(0, (nowMillis - EPOCH_MILLIS) / INTERVAL_MILLIS);
    if (clientCursor != null) {
      try {
        long client = Long.parseLong(clientCursor);
        if (client >= current) {
          return Long.toString(client + 1 + ThreadLocalRandom.current().nextInt(MAX_JITTER));
        }
      } catch (NumberFormatException ignored) {
        // A malformed cursor is only a cache key; treat it as absent.
      }
    }
    return Long.toString(current);
  }
}
