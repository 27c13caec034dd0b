"""What the desk does, one use case per module, each built in `complaints.wiring` with exactly the ports it uses:

- `intake`: take a complaint (API and Weibo), show a ticket to the citizen who holds its receipt;
- `photo_upload`: process a photo uploaded straight to S3, or stop waiting for one;
- `classify`: predict a received ticket's category and district;
- `dispatch`: publish a classified ticket, once, to its agency or to the triage desk.

How a ticket may move between states, and who may move it, is in `complaints.domain.lifecycle`.
"""
