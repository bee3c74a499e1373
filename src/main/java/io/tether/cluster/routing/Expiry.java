package io.tether.cluster.routing;

import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;

/**
 * The time after which nobody waits for a request's answer, carried with the request (an event-bus
 * header). A request can sit in a TCP send buffer for as long as a network partition lasts and arrive
 * when it heals, tens of seconds after its sender was told that the outcome is unknown; an owner that
 * applied it then would store an append its writer may already have sent again, at a place in the stream
 * readers had moved past. An owner or node agent drops a request whose time has passed (beyond a margin
 * for the members' clocks) without running it.
 */
public final class Expiry {

  public static final String HEADER = "tether-expires";

  /** How far members' clocks may differ before a request is taken for expired too early. */
  public static final long CLOCK_SKEW_MILLIS = 1_000;

  private Expiry() {
  }

  /** Options for a request whose sender waits {@code timeoutMillis} for the answer. */
  static DeliveryOptions options(long timeoutMillis) {
    return new DeliveryOptions().setSendTimeout(timeoutMillis)
        .addHeader(HEADER, Long.toString(System.currentTimeMillis() + timeoutMillis));
  }

  /** Options for handing {@code received} on with {@code timeoutMillis} to wait: the same expiry goes along. */
  public static DeliveryOptions relay(Message<?> received, long timeoutMillis) {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeoutMillis);
    String expires = received.headers().get(HEADER);
    if (expires != null) {
      options.addHeader(HEADER, expires);
    }
    return options;
  }

  /** When {@code message}'s sender stops waiting for the answer (epoch millis), or {@code otherwise}. */
  public static long deadline(Message<?> message, long otherwise) {
    String expires = message.headers().get(HEADER);
    if (expires == null) {
      return otherwise;
    }
    try {
      return Long.parseLong(expires);
    } catch (NumberFormatException e) {
      return otherwise;
    }
  }

  /** Whether {@code message} carries an expiry that has passed (by more than the clock margin). */
  public static boolean expired(Message<?> message) {
    String expires = message.headers().get(HEADER);
    if (expires == null) {
      return false;
    }
    try {
      return System.currentTimeMillis() > Long.parseLong(expires) + CLOCK_SKEW_MILLIS;
    } catch (NumberFormatException e) {
      return false;
    }
  }
}
