#version 330 core
// Gradient map: luminance recoloured through a ramp of three colours, shadow (at black) ->
// mid (at `midpoint`) -> highlight (at white). The default ramp is a duotone-ish night:
// deep blue, magenta, warm yellow. `amount` mixes it over the original: at 0 (the default)
// the chain skips it.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

uniform float amount;      // @param default=0.0 min=0.0 max=1.0 bypass=0
uniform float midpoint;    // @param default=0.5 min=0.01 max=0.99
uniform float shadow_r;    // @param default=0.05 min=0.0 max=1.0
uniform float shadow_g;    // @param default=0.02 min=0.0 max=1.0
uniform float shadow_b;    // @param default=0.25 min=0.0 max=1.0
uniform float mid_r;       // @param default=0.85 min=0.0 max=1.0
uniform float mid_g;       // @param default=0.15 min=0.0 max=1.0
uniform float mid_b;       // @param default=0.55 min=0.0 max=1.0
uniform float highlight_r; // @param default=1.0 min=0.0 max=1.0
uniform float highlight_g; // @param default=0.95 min=0.0 max=1.0
uniform float highlight_b; // @param default=0.6 min=0.0 max=1.0

void main() {
    vec3 c = texture(u_source, v_uv).rgb;
    float l = clamp(luminance(c), 0.0, 1.0);
    vec3 lo = vec3(shadow_r, shadow_g, shadow_b);
    vec3 mid = vec3(mid_r, mid_g, mid_b);
    vec3 hi = vec3(highlight_r, highlight_g, highlight_b);
    vec3 mapped = l < midpoint ? mix(lo, mid, l / midpoint)
                               : mix(mid, hi, (l - midpoint) / (1.0 - midpoint));
    f_color = vec4(mix(c, mapped, amount), 1.0);
}
