#version 330 core
// Film grain: fresh zero-mean noise every frame, added to the picture (triangular, so it is
// soft, with a mean of 0 so the picture's brightness stays). `size` is the grain in pixels,
// `colour` 0 = monochrome grain, 1 = a separate grain per channel. `midtones` 1 keeps the
// grain out of deep blacks and clipped whites, as film does. At amount=0 (the default) the
// chain skips it.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform float u_time;

uniform float amount;   // @param default=0.0 min=0.0 max=1.0 bypass=0
uniform float size;     // @param default=1.0 min=1.0 max=8.0
uniform float colour;   // @param default=0.0 min=0.0 max=1.0
uniform float midtones; // @param default=0.0 min=0.0 max=1.0

uint hash(uvec3 v) {  // PCG-ish 3D integer hash (Jarzynski & Olano 2020)
    v = v * 1664525u + 1013904223u;
    v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
    v ^= v >> 16u;
    v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
    return v.x ^ v.y ^ v.z;
}

float uniform01(uvec3 v) {
    return float(hash(v) >> 8) / 16777216.0;
}

// Triangular noise in -1..1, mean 0.
float tri(uvec2 cell, uint frame, uint channel) {
    uvec3 v = uvec3(cell, frame * 4u + channel);
    return uniform01(v) + uniform01(v ^ uvec3(0x9e3779b9u)) - 1.0;
}

void main() {
    vec2 res = vec2(textureSize(u_source, 0));
    vec3 c = texture(u_source, v_uv).rgb;
    uvec2 cell = uvec2(v_uv * res / max(floor(size), 1.0));
    uint frame = floatBitsToUint(u_time);
    float mono = tri(cell, frame, 0u);
    vec3 n = mix(vec3(mono), vec3(mono, tri(cell, frame, 1u), tri(cell, frame, 2u)), colour);
    float l = dot(c, vec3(0.2126, 0.7152, 0.0722));
    float weight = mix(1.0, clamp(4.0 * l * (1.0 - l), 0.0, 1.0), midtones);
    f_color = vec4(clamp(c + n * amount * 0.5 * weight, 0.0, 1.0), 1.0);
}
