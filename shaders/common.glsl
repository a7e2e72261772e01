// Shared helpers for the effect programs, pulled in by an include line naming this file
// (resolved by performer/display.py: recursive, each file once). No #version line here.

const vec3 LUMA = vec3(0.2126, 0.7152, 0.0722);  // Rec. 709

float luminance(vec3 c) {
    return dot(c, LUMA);
}

// The texel under uv, exactly.
vec4 sample_nearest(sampler2D tex, vec2 uv, vec2 size) {
    return texelFetch(tex, ivec2(clamp(uv * size, vec2(0.0), size - 1.0)), 0);
}

// Catmull-Rom bicubic in 5 bilinear taps (needs a LINEAR-filtered, clamp-to-edge texture):
// the 9-tap form of M. Pettineo's "Bicubic filtering in fewer taps" without its 4 corner
// taps, whose weights are tiny (J. Jimenez, "Filmic SMAA"). May overshoot [0, 1]: clamp.
// With bicubic = false it is one plain bilinear tap at `single_uv` (the other four taps are
// weighted 0), for shaders that switch filters without paying for two code paths.
vec4 sample_catmull_rom(sampler2D tex, vec2 uv, vec2 size, bool bicubic, vec2 single_uv) {
    vec2 pos = uv * size;
    vec2 p1 = floor(pos - 0.5) + 0.5;
    vec2 f = pos - p1;
    vec2 w0 = f * (-0.5 + f * (1.0 - 0.5 * f));
    vec2 w1 = 1.0 + f * f * (-2.5 + 1.5 * f);
    vec2 w2 = f * (0.5 + f * (2.0 - 1.5 * f));
    vec2 w3 = f * f * (-0.5 + 0.5 * f);
    vec2 w12 = w1 + w2;
    vec2 t0 = (p1 - 1.0) / size;
    vec2 t3 = (p1 + 2.0) / size;
    vec2 t12 = (p1 + w2 / w12) / size;
    float k = bicubic ? 1.0 : 0.0;
    float a = k * w12.x * w0.y;
    float b = k * w0.x * w12.y;
    float c = bicubic ? w12.x * w12.y : 1.0;
    float d = k * w3.x * w12.y;
    float e = k * w12.x * w3.y;
    vec4 sum = texture(tex, vec2(t12.x, t0.y)) * a
             + texture(tex, vec2(t0.x, t12.y)) * b
             + texture(tex, bicubic ? t12 : single_uv) * c
             + texture(tex, vec2(t3.x, t12.y)) * d
             + texture(tex, vec2(t12.x, t3.y)) * e;
    return sum / (a + b + c + d + e);
}

vec4 sample_catmull_rom(sampler2D tex, vec2 uv, vec2 size) {
    return sample_catmull_rom(tex, uv, size, true, uv);
}

// Rotate a colour's hue by `degrees` about the grey axis (greys stay put).
vec3 hue_rotate(vec3 c, float degrees) {
    float a = radians(degrees);
    vec3 k = vec3(0.57735026919);
    float ca = cos(a);
    return c * ca + cross(k, c) * sin(a) + k * dot(k, c) * (1.0 - ca);
}
