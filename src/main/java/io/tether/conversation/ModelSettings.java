package io.tether.conversation;

/**
 * How to reach an OpenAI-compatible model.
 *
 * @param baseUrl              e.g. {@code https://api.openai.com/v1} ({@code TETHER_MODEL_BASE_URL})
 * @param model                model name sent in each request ({@code TETHER_MODEL_NAME})
 * @param apiKey               bearer token, empty for none ({@code TETHER_MODEL_API_KEY})
 * @param connectTimeoutMillis TCP/TLS connect timeout
 * @param idleTimeoutMillis    longest silence allowed on a streaming response
 * @param retries              attempts after the first when no text has arrived yet
 * @param retryBackoffMillis   first retry delay, doubled on each further retry
 */
public record ModelSettings(String baseUrl, String model, String apiKey, long connectTimeoutMillis,
                            long idleTimeoutMillis, int retries, long retryBackoffMillis) {
}
