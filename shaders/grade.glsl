#version 330 core
// Colour grade: exposure, tint, hue, saturation, contrast, gamma, vignette (in that order).
// Every default leaves the image unchanged; all at their defaults, the chain skips it.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform vec2 u_resolution;

uniform float exposure;   // @param default=0.0 min=-4.0 max=4.0 bypass=0.0
uniform float tint_r;     // @param default=1.0 min=0.0 max=2.0 bypass=1.0
uniform float tint_g;     // @param default=1.0 min=0.0 max=2.0 bypass=1.0
uniform float tint_b;     // @param default=1.0 min=0.0 max=2.0 bypass=1.0
uniform float hue;        // @param default=0.0 min=-180.0 max=180.0 bypass=0.0
uniform float saturation; // @param default=1.0 min=0.0 max=3.0 bypass=1.0
uniform float contrast;   // @param default=1.0 min=0.0 max=3.0 bypass=1.0
uniform float gamma;      // @param default=1.0 min=0.2 max=5.0 bypass=1.0
uniform float vignette;   // @param default=0.0 min=0.0 max=1.0 bypass=0.0

void main() {
    vec3 c = texture(u_source, v_uv).rgb;
    c *= exp2(exposure) * vec3(tint_r, tint_g, tint_b);
    if (hue != 0.0) {
        c = hue_rotate(c, hue);
    }
    c = mix(vec3(luminance(c)), c, saturation);
    c = (c - 0.5) * contrast + 0.5;
    if (gamma != 1.0) {
        c = pow(max(c, 0.0), vec3(1.0 / max(gamma, 1e-3)));
    }
    // Vignette: darken towards the corners, round in pixels whatever the aspect.
    vec2 d = (v_uv - 0.5) * u_resolution / max(u_resolution.x, u_resolution.y);
    c *= 1.0 - vignette * smoothstep(0.06, 0.55, dot(d, d) * 1.44);
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}
