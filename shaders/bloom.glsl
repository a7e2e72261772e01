#version 330 core
// Bloom: what is brighter than `threshold` is blurred (a Gaussian spread over `radius` pixels:
// a 4x4 grid of bilinear taps, one pass) and added back on top: highlights glow. At amount=0
// (the default) the chain skips it.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

uniform float amount;    // @param default=0.0 min=0.0 max=4.0 bypass=0
uniform float threshold; // @param default=0.6 min=0.0 max=1.0
uniform float radius;    // @param default=6.0 min=1.0 max=32.0

void main() {
    vec2 texel = 1.0 / vec2(textureSize(u_source, 0));
    vec3 c = texture(u_source, v_uv).rgb;
    vec3 glow = vec3(0.0);
    float total = 0.0;
    float step_px = radius / 2.0;  // taps at ±0.5 and ±1.5 steps: ±radius * 3/4 at the most
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < 4; i++) {
            vec2 o = vec2(i, j) - 1.5;
            float w = exp(-0.5 * dot(o, o) / 1.44);  // sigma = 1.2 taps
            vec3 s = texture(u_source, v_uv + o * step_px * texel).rgb;
            // The part above the threshold, by luminance, keeping the colour.
            float l = luminance(s);
            glow += s * (max(l - threshold, 0.0) / max(l, 1e-4)) * w;
            total += w;
        }
    }
    f_color = vec4(clamp(c + amount * glow / total, 0.0, 1.0), 1.0);
}
