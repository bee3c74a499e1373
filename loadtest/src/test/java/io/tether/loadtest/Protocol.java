package io.tether.loadtest;

import io.gatling.javaapi.http.HttpProtocolBuilder;

import static io.gatling.javaapi.http.HttpDsl.http;

/** The HTTP protocol of every simulation: nodes are named per request (absolute URLs). */
final class Protocol {

  static final HttpProtocolBuilder HTTP = http.baseUrl(Settings.BASE_URLS.get(0))
      // Frames not claimed by a check wait here until the user reads them (processUnmatchedMessages).
      .wsUnmatchedInboundMessageBufferSize(100_000)
      .sseUnmatchedInboundMessageBufferSize(100_000);

  private Protocol() {
  }
}
