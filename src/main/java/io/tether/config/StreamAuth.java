package io.tether.config;

import java.util.Locale;

/**
 * Who may use plain streams (everything outside {@code sessions/}, which always needs a session token):
 * {@code TETHER_STREAM_AUTH}.
 */
public enum StreamAuth {
  /** Anyone may create, append, delete, fork and read (a local demo, or a private network). */
  OPEN,
  /** Create, append, delete and fork need the API key or a stream token with write scope; reads are open. */
  WRITES,
  /** Reads need the API key or a stream token too. */
  ALL;

  public String setting() {
    return name().toLowerCase(Locale.ROOT);
  }

  public boolean protectsWrites() {
    return this != OPEN;
  }

  public boolean protectsReads() {
    return this == ALL;
  }

  static StreamAuth parse(String value) {
    for (StreamAuth auth : values()) {
      if (auth.setting().equals(value.trim().toLowerCase(Locale.ROOT))) {
        return auth;
      }
    }
    throw new IllegalArgumentException("TETHER_STREAM_AUTH must be open, writes or all, got '" + value + "'");
  }
}
