package io.tether.stream;

import io.tether.wire.WireInput;
import io.tether.wire.WireOutput;

import java.time.Instant;

/**
 * The configuration a stream is created with. Two creates are "the same" (idempotent PUT) when their
 * settings are {@link #sameAs equal} and their closure status matches.
 *
 * @param contentType     as given on creation (compared by media type)
 * @param ttlSeconds      sliding time-to-live, or -1
 * @param expiresAtMillis absolute expiry in epoch milliseconds, or -1
 */
public record StreamSettings(String contentType, long ttlSeconds, long expiresAtMillis) {

  public boolean hasTtl() {
    return ttlSeconds >= 0;
  }

  public boolean hasExpiresAt() {
    return expiresAtMillis >= 0;
  }

  public String expiresAtText() {
    return hasExpiresAt() ? Instant.ofEpochMilli(expiresAtMillis).toString() : null;
  }

  public boolean sameAs(StreamSettings other) {
    return ContentTypes.sameMediaType(contentType, other.contentType)
        && ttlSeconds == other.ttlSeconds
        && expiresAtMillis == other.expiresAtMillis;
  }

  /** Settings of a fork: its own expiry when given, else the source's (protocol section 4.2). */
  public StreamSettings inheritExpiryFrom(StreamSettings source) {
    if (hasTtl() || hasExpiresAt()) {
      return this;
    }
    return new StreamSettings(contentType, source.ttlSeconds, source.expiresAtMillis);
  }

  public StreamSettings withContentType(String type) {
    return new StreamSettings(type, ttlSeconds, expiresAtMillis);
  }

  public void writeTo(WireOutput out) {
    out.writeString(contentType);
    out.writeLong(ttlSeconds);
    out.writeLong(expiresAtMillis);
  }

  public static StreamSettings readFrom(WireInput in) {
    return new StreamSettings(in.readString(), in.readLong(), in.readLong());
  }

  static void writeNullable(WireOutput out, StreamSettings settings) {
    out.writeBoolean(settings != null);
    if (settings != null) {
      settings.writeTo(out);
    }
  }

  static StreamSettings readNullable(WireInput in) {
    return in.readBoolean() ? readFrom(in) : null;
  }
}
