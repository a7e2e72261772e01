#version 330 core
// Edges: a Sobel filter on luminance. outline=0 draws the edges white on black; outline=1
// draws them as dark lines over the picture (a cartoon ink). `gain` sharpens faint edges;
// `amount` mixes the effect over the original: at 0 (the default) the chain skips it.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

uniform float amount;  // @param default=0.0 min=0.0 max=1.0 bypass=0
uniform float gain;    // @param default=1.0 min=0.1 max=10.0
uniform float outline; // @param default=0.0 min=0.0 max=1.0

float lum(ivec2 p, ivec2 size) {
    return luminance(texelFetch(u_source, clamp(p, ivec2(0), size - 1), 0).rgb);
}

void main() {
    ivec2 size = textureSize(u_source, 0);
    ivec2 p = ivec2(v_uv * vec2(size));
    float tl = lum(p + ivec2(-1, 1), size), t = lum(p + ivec2(0, 1), size);
    float tr = lum(p + ivec2(1, 1), size), l = lum(p + ivec2(-1, 0), size);
    float r = lum(p + ivec2(1, 0), size), bl = lum(p + ivec2(-1, -1), size);
    float b = lum(p + ivec2(0, -1), size), br = lum(p + ivec2(1, -1), size);
    float gx = (tr + 2.0 * r + br) - (tl + 2.0 * l + bl);
    float gy = (tl + 2.0 * t + tr) - (bl + 2.0 * b + br);
    // A full black-to-white step gives |g| = 4: that is an edge of strength 1.
    float e = clamp(gain * length(vec2(gx, gy)) / 4.0, 0.0, 1.0);
    vec3 c = texelFetch(u_source, p, 0).rgb;
    vec3 effect = mix(vec3(e), c * (1.0 - e), outline);
    f_color = vec4(mix(c, effect, amount), 1.0);
}
