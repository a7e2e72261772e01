// Shared helpers for the effect programs, pulled in by an include line naming this file
// (resolved by performer/display.py: recursive, each file once). No #version line here.

const vec3 LUMA = vec3(0.2126, 0.7152, 0.0722);  // Rec. 709

float luminance(vec3 c) {
    return dot(c, LUMA);
}

// The texel under uv, exactly: sample at its centre (works with a LINEAR-filtered texture).
vec4 sample_nearest(sampler2D tex, vec2 uv, vec2 size) {
    vec2 texel = min(floor(uv * size), size - 1.0);
    return texture(tex, (texel + 0.5) / size);
}

// Catmull-Rom bicubic in 9 bilinear taps (needs a LINEAR-filtered, clamp-to-edge texture).
// After M. Pettineo, "Bicubic filtering in fewer taps". May overshoot [0, 1]: clamp after.
vec4 sample_catmull_rom(sampler2D tex, vec2 uv, vec2 size) {
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
    vec4 c = vec4(0.0);
    c += texture(tex, vec2(t0.x, t0.y)) * w0.x * w0.y;
    c += texture(tex, vec2(t12.x, t0.y)) * w12.x * w0.y;
    c += texture(tex, vec2(t3.x, t0.y)) * w3.x * w0.y;
    c += texture(tex, vec2(t0.x, t12.y)) * w0.x * w12.y;
    c += texture(tex, vec2(t12.x, t12.y)) * w12.x * w12.y;
    c += texture(tex, vec2(t3.x, t12.y)) * w3.x * w12.y;
    c += texture(tex, vec2(t0.x, t3.y)) * w0.x * w3.y;
    c += texture(tex, vec2(t12.x, t3.y)) * w12.x * w3.y;
    c += texture(tex, vec2(t3.x, t3.y)) * w3.x * w3.y;
    return c;
}

// Rotate a colour's hue by `degrees` about the grey axis (greys stay put).
vec3 hue_rotate(vec3 c, float degrees) {
    float a = radians(degrees);
    vec3 k = vec3(0.57735026919);
    float ca = cos(a);
    return c * ca + cross(k, c) * sin(a) + k * dot(k, c) * (1.0 - ca);
}
