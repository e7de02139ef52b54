package dev.rage2e.testutil;

import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * Finds the jar of a test-scope Maven dependency that carries pretrained weights (declared in the
 * pom so that the build downloads it, in CI too) by a resource it holds, falling back to the local
 * repository; skips the test cleanly when neither has it.
 */
public final class MavenJars {
    private MavenJars() {}

    public static Path locate(String resource, String groupId, String artifactId, String version) {
        URL url = MavenJars.class.getClassLoader().getResource(resource);
        if (url != null && url.getProtocol().equals("jar")) {
            String s = url.getPath(); // file:/.../x.jar!/resource
            int bang = s.indexOf("!/");
            try {
                Path p = Path.of(new java.net.URI(s.substring(0, bang)));
                if (Files.isRegularFile(p)) return p;
            } catch (java.net.URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        Path m2 = Path.of(
                System.getProperty("user.home"),
                ".m2",
                "repository",
                groupId.replace('.', '/'),
                artifactId,
                version,
                artifactId + "-" + version + ".jar");
        Assumptions.assumeTrue(
                Files.isRegularFile(m2),
                groupId + ":" + artifactId + ":" + version
                        + " is neither on the test classpath nor in ~/.m2; run the build online once (mvn -B test)");
        return m2;
    }
}
