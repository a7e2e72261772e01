#version 330 core
// Displacement: each pixel is fetched from somewhere near, pushed by smooth moving noise
// (luma=0), by the image's own luminance (luma=1: bright parts slide, dark parts the other
// way), or a mix. `amount` is the largest push as a fraction of the image height; at 0 (the
// default) it is the identity and the chain skips it.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform float u_time;

uniform float amount; // @param default=0.0 min=0.0 max=0.25 bypass=0
uniform float scale;  // @param default=3.0 min=0.25 max=32.0
uniform float speed;  // @param default=0.3 min=0.0 max=8.0
uniform float luma;   // @param default=0.0 min=0.0 max=1.0
uniform float angle;  // @param default=45.0 min=-180.0 max=180.0

float hash(vec3 p) {
    uvec3 q = uvec3(ivec3(p)) * uvec3(1597334673u, 3812015801u, 2798796415u);
    uint n = (q.x ^ q.y ^ q.z) * 1597334677u;
    return float(n >> 8) / 16777215.0;
}

// Value noise in 0..1, smooth in xy, drifting through z.
float noise(vec3 p) {
    vec3 i = floor(p);
    vec3 f = p - i;
    f = f * f * (3.0 - 2.0 * f);
    float n = 0.0;
    for (int k = 0; k < 8; k++) {
        vec3 o = vec3(k & 1, (k >> 1) & 1, (k >> 2) & 1);
        vec3 w = mix(1.0 - f, f, o);
        n += hash(i + o) * w.x * w.y * w.z;
    }
    return n;
}

void main() {
    vec2 size = vec2(textureSize(u_source, 0));
    vec2 aspect = size / size.y;  // push in units of the height: round, whatever the aspect
    vec3 p = vec3(v_uv * aspect * scale, u_time * speed);
    vec2 by_noise = vec2(noise(p), noise(p + vec3(17.3, 41.9, 7.1))) * 2.0 - 1.0;
    float l = dot(texture(u_source, v_uv).rgb, vec3(0.2126, 0.7152, 0.0722));
    float a = radians(angle);
    vec2 by_luma = (l - 0.5) * 2.0 * vec2(cos(a), sin(a));
    vec2 push = mix(by_noise, by_luma, luma) * amount / aspect;
    f_color = vec4(texture(u_source, v_uv + push).rgb, 1.0);
}
