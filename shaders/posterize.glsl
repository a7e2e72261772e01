#version 330 core
// Posterize: each channel rounded to `levels` evenly spaced values, black and white
// included (2 = each channel on or off). Below 2 (the default 0) it is off and the chain
// skips it.

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;

uniform float levels; // @param default=0.0 min=0.0 max=64.0 bypass=0

void main() {
    vec3 c = texture(u_source, v_uv).rgb;
    if (levels >= 2.0) {
        float steps = floor(levels) - 1.0;
        c = floor(c * steps + 0.5) / steps;
    }
    f_color = vec4(c, 1.0);
}
