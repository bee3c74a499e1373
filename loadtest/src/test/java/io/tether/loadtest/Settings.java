package io.tether.loadtest;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/** Load-test parameters, from system properties (-DbaseUrls=... -Dusers=... -DrampSeconds=...). */
final class Settings {

  static final List<String> BASE_URLS = Arrays.stream(System.getProperty("baseUrls", "http://127.0.0.1:8081").split(","))
      .map(String::trim).filter(s -> !s.isEmpty()).toList();
  static final int USERS = Integer.getInteger("users", 20);
  static final int RAMP_SECONDS = Integer.getInteger("rampSeconds", 20);
  /** Longest a user waits for its answer to complete (node kills included). */
  static final Duration ANSWER_DEADLINE = Duration.ofSeconds(Integer.getInteger("answerDeadlineSeconds", 90));

  private Settings() {
  }

  static String randomBase() {
    return BASE_URLS.get(ThreadLocalRandom.current().nextInt(BASE_URLS.size()));
  }

  static String ws(String base) {
    return base.replaceFirst("^http", "ws");
  }
}
