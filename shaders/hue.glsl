#version 330 core
// Hue rotate: every colour turned `shift` degrees round the colour wheel (greys stay put),
// plus `speed` degrees per second for a continuous cycle. Both at 0 (the defaults): the
// chain skips it.
#include "common.glsl"

in vec2 v_uv;
out vec4 f_color;

uniform sampler2D u_source;
uniform float u_time;

uniform float shift; // @param default=0.0 min=-180.0 max=180.0 bypass=0
uniform float speed; // @param default=0.0 min=-360.0 max=360.0 bypass=0

void main() {
    vec3 c = texture(u_source, v_uv).rgb;
    float degrees = shift + speed * u_time;
    f_color = vec4(clamp(hue_rotate(c, mod(degrees, 360.0)), 0.0, 1.0), 1.0);
}
